//! File names in the rdd log layout: `NAME.log` is the active log, `NAME.N.log`
//! its N-th backup (1 is the oldest), and names that must become archive paths.

use std::ffi::OsStr;

/// `ha.stderr.3.log` → `("ha.stderr", Some(3))`; `serial.log` → `("serial", None)`;
/// anything not ending in `.log` → `None`.
pub fn parse_log_name(file_name: &str) -> Option<(&str, Option<u64>)> {
    let stem = file_name.strip_suffix(".log")?;
    if stem.is_empty() {
        return None;
    }
    if let Some((base, number)) = stem.rsplit_once('.')
        && !base.is_empty()
        && is_rotation_number(number)
        && let Ok(n) = number.parse()
    {
        return Some((base, Some(n)));
    }
    Some((stem, None))
}

/// The N of `<name>.<N>.log` for this exact `name`, as `logfile.Rotate` matches it.
pub fn backup_number(file_name: &str, name: &str) -> Option<u64> {
    let number = file_name
        .strip_prefix(name)?
        .strip_prefix('.')?
        .strip_suffix(".log")?;
    if is_rotation_number(number) {
        number.parse().ok()
    } else {
        None
    }
}

fn is_rotation_number(s: &str) -> bool {
    !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A file or folder name as it is written into an archive: valid UTF-8 (zip
/// needs it, and JSON), with each byte that is not UTF-8, each control
/// character, each backslash and each character Windows forbids in names
/// (`<>:"|?*`) written as `%XX`, so that the name can be extracted on every
/// OS and checked with `sha256sum -c`. So is a trailing dot or space (which
/// Windows drops) and the first letter of a device name (`CON`, `NUL.log`).
/// A name that escaping makes longer than `NAME_MAX` is shortened (see
/// `within_name_max`). Returns whether the name had to change.
pub fn archive_component(name: &OsStr) -> (String, bool) {
    let bytes = name.as_encoded_bytes();
    // Most names need no escape: one check, one copy.
    if let Some(plain) = name.to_str().filter(|n| !needs_escape(n)) {
        return (plain.to_owned(), false);
    }
    let mut out = String::with_capacity(bytes.len());
    let mut escaped = false;
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_ascii_control() || c == '\\' || WINDOWS_FORBIDDEN.contains(&c) {
                out.push_str(&format!("%{:02X}", c as u32));
                escaped = true;
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("%{b:02X}"));
            escaped = true;
        }
    }
    if out.ends_with(['.', ' ']) && out != "." && out != ".." {
        let last = out.pop().expect("ends with a character");
        out.push_str(&format!("%{:02X}", last as u32));
        escaped = true;
    }
    if is_windows_device(&out) {
        let first = out.remove(0);
        out.insert_str(0, &format!("%{:02X}", first as u32));
        escaped = true;
    }
    (within_name_max(out, bytes), escaped)
}

/// The longest name, in bytes, that ext4, APFS and NTFS (in UTF-16 units)
/// all take. A name on disk is at most this long, but escaping writes a
/// byte as three (`:` as `%3A`), and one name too long to extract would
/// fail the whole unpacking (or a folder output's writing).
pub const NAME_MAX: usize = 255;

/// `name`, or when it is longer than `NAME_MAX`, its start, `~`, 8 hex
/// digits of the SHA-256 of the name on disk (`original`) and its end as a
/// log's name has it (`.log`, a backup's `.3.log`), so that it stays the
/// same log, backup and kind. The manifest's `source` keeps the full name.
fn within_name_max(name: String, original: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    if name.len() <= NAME_MAX {
        return name;
    }
    let tail_at = match parse_log_name(&name) {
        Some((base, _)) => base.len(),
        None => name
            .rfind('.')
            .filter(|&dot| name.len() - dot <= 16)
            .unwrap_or(name.len()),
    };
    let tail = &name[tail_at..];
    let digest = Sha256::digest(original);
    let mark = format!("~{}", hex::encode(&digest[..4]));
    let mut head = NAME_MAX
        .saturating_sub(tail.len() + mark.len())
        .min(tail_at);
    while !name.is_char_boundary(head) {
        head -= 1;
    }
    // Not in the middle of an escape: `%3` alone would read as another byte.
    // (Bytes: the two before `head` may be inside a character.)
    let before = head.saturating_sub(2);
    if let Some(percent) = name.as_bytes()[before..head]
        .iter()
        .rposition(|&b| b == b'%')
    {
        head = before + percent;
    }
    format!("{}{mark}{tail}", &name[..head])
}

/// Whether `archive_component` changes this name.
fn needs_escape(name: &str) -> bool {
    name.chars()
        .any(|c| c.is_ascii_control() || c == '\\' || WINDOWS_FORBIDDEN.contains(&c))
        || (name.ends_with(['.', ' ']) && name != "." && name != "..")
        || is_windows_device(name)
}

/// The characters Windows does not allow in a file name (besides `\\`, `/`
/// and control characters); `:` would name an alternate data stream.
pub const WINDOWS_FORBIDDEN: [char; 7] = ['<', '>', ':', '"', '|', '?', '*'];

/// Whether Windows takes this name for a device (`CON`, `nul.log`,
/// `COM1.txt`…): the part before the first dot, without trailing spaces.
pub fn is_windows_device(name: &str) -> bool {
    let stem = name
        .split('.')
        .next()
        .unwrap_or_default()
        .trim_end_matches(' ');
    // Compared without an uppercase copy: this runs for every file listed.
    let is = |device: &str| stem.eq_ignore_ascii_case(device);
    let numbered = |prefix: &str| {
        stem.len() == 4
            && stem.as_bytes()[..3].eq_ignore_ascii_case(prefix.as_bytes())
            && stem.as_bytes()[3].is_ascii_digit()
    };
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
        .into_iter()
        .any(is)
        || numbered("COM")
        || numbered("LPT")
}

/// Why Windows cannot create a file or folder named `part`, if it cannot: a
/// `:` opens an alternate data stream (the data would be hidden in another
/// file), `<>"|?*` are not allowed, a trailing dot or space is dropped (two
/// names become one), and `CON`, `NUL`, `COM1`… name devices, even with an
/// extension.
pub fn windows_problem(part: &str) -> Option<&'static str> {
    if part.contains(WINDOWS_FORBIDDEN) {
        Some("has a character Windows does not allow in names (<>:\"|?*)")
    } else if part.ends_with(['.', ' ']) && part != "." && part != ".." {
        Some("has a name ending in a dot or a space, which Windows drops")
    } else if is_windows_device(part) {
        Some("is named like a Windows device (CON, NUL, COM1…)")
    } else {
        None
    }
}

/// A folder of the archive named as the user gives it (an instance, a part
/// of an include folder): one plain component that every system can create,
/// since the archive must extract everywhere.
pub fn check_folder_name(kind: &str, name: &str) -> Result<(), String> {
    check_component(kind, name)?;
    match windows_problem(name) {
        Some(why) => Err(format!(
            "{kind} name {name:?} {why}: it names a folder of the archive, which must extract on Windows too"
        )),
        None => Ok(()),
    }
}

/// Names the user gives to instances and archive folders become path
/// components: keep them to one plain component.
pub fn check_component(kind: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', ':'])
        && !name.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{kind} name {name:?} must be one plain name: not empty, '.' or '..', without '/', '\\', ':' or control characters (it is taken as it is, not as a pattern)"
        ))
    }
}

/// Paths compared as people number files: a run of digits by its value, so
/// that `rdd.stderr.9.log` comes before `rdd.stderr.10.log` (backups are
/// numbered from the oldest) and both before the live `rdd.stderr.log`.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let digits = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        let (Some(&x), Some(&y)) = (a.first(), b.first()) else {
            return a.len().cmp(&b.len());
        };
        if x.is_ascii_digit() && y.is_ascii_digit() {
            let (da, db) = (digits(a), digits(b));
            // A number's digits without its leading zeros.
            fn value(run: &[u8]) -> &[u8] {
                let zeros = run.iter().take_while(|&&c| c == b'0').count();
                &run[zeros..]
            }
            let (va, vb) = (value(&a[..da]), value(&b[..db]));
            // The longer number is the larger; then digit by digit; then
            // fewer leading zeros first, so that unequal names never tie.
            let order = va.len().cmp(&vb.len()).then(va.cmp(vb)).then(da.cmp(&db));
            if order.is_ne() {
                return order;
            }
            (a, b) = (&a[da..], &b[db..]);
        } else if x != y {
            return x.cmp(&y);
        } else {
            (a, b) = (&a[1..], &b[1..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_compares_numbers_by_value() {
        let mut names = vec![
            "rdd.stderr.log",
            "rdd.stderr.10.log",
            "rdd.stderr.9.log",
            "rdd.stderr.09.log",
            "rdd.stderr.1.log",
            "ha.stderr.log",
            "vm-2/serial.log",
            "vm-10/serial.log",
            "rdd.stderr.100000000000000000000000.log",
        ];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            [
                "ha.stderr.log",
                "rdd.stderr.1.log",
                "rdd.stderr.9.log",
                "rdd.stderr.09.log",
                "rdd.stderr.10.log",
                "rdd.stderr.100000000000000000000000.log",
                "rdd.stderr.log",
                "vm-2/serial.log",
                "vm-10/serial.log",
            ]
        );
        assert!(natural_cmp("a1", "a1").is_eq());
        assert!(natural_cmp("a", "a1").is_lt());
    }

    #[test]
    fn parses_active_and_rotated_logs() {
        assert_eq!(parse_log_name("serial.log"), Some(("serial", None)));
        assert_eq!(parse_log_name("ha.stderr.log"), Some(("ha.stderr", None)));
        assert_eq!(
            parse_log_name("ha.stderr.12.log"),
            Some(("ha.stderr", Some(12)))
        );
        assert_eq!(
            parse_log_name("rdd.stdout.1.log"),
            Some(("rdd.stdout", Some(1)))
        );
        assert_eq!(parse_log_name("lima.yaml"), None);
        assert_eq!(parse_log_name(".log"), None);
        assert_eq!(parse_log_name("7.log"), Some(("7", None)));
    }

    #[test]
    fn backup_number_needs_the_exact_name() {
        assert_eq!(backup_number("serial.3.log", "serial"), Some(3));
        assert_eq!(backup_number("serialv.3.log", "serial"), None);
        assert_eq!(backup_number("serial.log", "serial"), None);
        assert_eq!(backup_number("serial.x.log", "serial"), None);
        assert_eq!(backup_number("serial.-1.log", "serial"), None);
    }

    #[test]
    fn folder_names_must_be_creatable_on_windows() {
        for ok in ["bats-lima-controller", "_diag", "console", "com10", "a.b"] {
            assert_eq!(check_folder_name("instance", ok), Ok(()), "{ok}");
        }
        for bad in [
            "aux", "NUL", "com1", "a?b", "a*", "x\"y", "a.", "a ", "x:y", "",
        ] {
            assert!(check_folder_name("instance", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn escapes_bytes_that_are_not_utf8() {
        assert_eq!(
            archive_component(OsStr::new("a b.log")),
            ("a b.log".into(), false)
        );
        assert_eq!(
            archive_component(OsStr::new("a\nb\\c.log")),
            ("a%0Ab%5Cc.log".into(), true)
        );
        // What Windows cannot create, so that every OS can extract it.
        for (name, archived) in [
            ("test-10:00:00.log", "test-10%3A00%3A00.log"),
            ("a<b>\"c|d?e*.log", "a%3Cb%3E%22c%7Cd%3Fe%2A.log"),
            ("trailing.", "trailing%2E"),
            ("space ", "space%20"),
            ("nul.log", "%6Eul.log"),
            ("COM1", "%43OM1"),
        ] {
            assert_eq!(
                archive_component(OsStr::new(name)),
                (archived.into(), true),
                "{name}"
            );
        }
        for name in ["Con", "nUl .txt", "conin$.log", "Lpt9", "aux"] {
            assert!(archive_component(OsStr::new(name)).1, "{name}");
        }
        for name in [
            "console.log",
            "com10.log",
            "a.b.log",
            "naïve.log",
            "COMX",
            "LPT",
            "nulls",
        ] {
            assert_eq!(archive_component(OsStr::new(name)), (name.into(), false));
        }
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let (name, escaped) = archive_component(OsStr::from_bytes(b"x\xff.log"));
            assert_eq!(name, "x%FF.log");
            assert!(escaped);
        }
    }

    #[test]
    fn names_that_escaping_makes_too_long_are_shortened_and_stay_logs() {
        let colons = ":".repeat(250);
        for (name, tail) in [
            (format!("{colons}.log"), ".log"),
            (format!("{colons}.3.log"), ".3.log"),
            (format!("a{colons}"), ""),
            (format!("é{}.txt", ":".repeat(200)), ".txt"),
            // Cut right after a character of 3 bytes.
            (format!("{}::.log", "€".repeat(82)), ".log"),
        ] {
            let (archived, changed) = archive_component(OsStr::new(&name));
            assert!(changed, "{name}");
            assert!(
                archived.len() <= NAME_MAX,
                "{} bytes: {archived}",
                archived.len()
            );
            assert!(archived.len() > NAME_MAX - 3, "{archived}");
            let mark_at = archived.len() - tail.len() - 9;
            assert!(archived.ends_with(tail), "{archived}");
            assert_eq!(&archived[mark_at..mark_at + 1], "~", "{archived}");
            // The start never ends inside an escape (a `%` cut from its digits).
            let head = &archived[..mark_at];
            assert!(
                head.rfind('%').is_none_or(|p| head.len() - p >= 3),
                "{archived}"
            );
            assert_eq!(
                parse_log_name(&archived).map(|(_, n)| n),
                parse_log_name(&name).map(|(_, n)| n)
            );
        }
        // Two names alike but for their end stay two names.
        let a = archive_component(OsStr::new(&format!("{colons}a.log"))).0;
        let b = archive_component(OsStr::new(&format!("{colons}b.log"))).0;
        assert_ne!(a, b);
        // A name that fits is left as it was.
        let fits = format!("{}.log", ":".repeat(83));
        assert_eq!(archive_component(OsStr::new(&fits)).0.len(), 83 * 3 + 4);
    }
}
