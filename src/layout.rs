//! Plan the archive: decide, before anything is read, which source file goes
//! to which path in the layout, and which sources are skipped and why.
//!
//! ```text
//! <instance>/              service logs from the log dir
//! <instance>/<vm>[.N]/     preserved VM logs (folders in the log dir)
//! <instance>/lima-<vm>/    logs of VMs still in the Lima home
//! <into>/…                 extra files from include globs
//! ```

use std::collections::BTreeSet;
use std::fs::{self, FileType};
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::names::{archive_component, parse_log_name};
use crate::problem::Problem;
use crate::sanitize::display_path;
use crate::sources::{Include, Instance, Sources};

/// What a collected file is, for people and tools that read the archive.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A log of the rdd service itself (`rdd.stderr.log`, `support-bundle.log`, …).
    Service,
    /// A Lima host agent log (`ha.stderr.log`, `ha.stdout.log`).
    Hostagent,
    /// A VM serial console log (`serial.log`, `serialp.log`, `serialv.log`).
    Serial,
    /// Written from inside the guest (`guest-journal.log`, `lima-init.log`).
    Guest,
    /// Another log of a VM still in the Lima home.
    Vm,
    /// A log preserved from a deleted VM (`<instance>/<vm>[.N]/`).
    Preserved,
    /// A file from an include glob.
    Extra,
}

/// Why a source was not collected.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// Only `*.log` files are collected from instance folders.
    NotALog,
    /// Lima's `_config` holds the SSH private key of every VM: never collected.
    LimaConfig,
    /// A folder in the Lima home starting with `_` holds no VM.
    NotAVm,
    /// Folders deeper than the layout's depth are not descended into.
    NestedFolder,
    /// Symbolic links are not followed: they could pull in anything.
    Symlink,
    /// Sockets are never opened (one is a live VM console).
    Socket,
    /// FIFOs are never opened (a read would block forever).
    Fifo,
    /// Block and character devices are never read.
    Device,
    /// A folder matched by an include glob (globs select files).
    Directory,
    /// The folder or file could not be listed or inspected.
    Unreadable,
    /// Holds a secret by its name or content (a private key, a kubeconfig…);
    /// `detail` says which rule.
    Secret,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedFile {
    #[serde(serialize_with = "crate::sanitize::serde_path::one")]
    pub source: PathBuf,
    /// The path inside the archive, always relative and `/`-separated.
    pub path: String,
    pub instance: Option<String>,
    pub vm: Option<String>,
    pub kind: Kind,
    /// The log's name without rotation number and `.log` (`ha.stderr`).
    pub log: Option<String>,
    /// N of a `NAME.N.log` backup (1 is the oldest).
    pub rotation: Option<u64>,
    /// The size when planned; what is archived is measured when read.
    #[serde(rename = "size")]
    pub planned_size: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Skipped {
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    pub reason: SkipReason,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Skipped {
    pub fn new(path: &Path, instance: Option<String>, reason: SkipReason) -> Skipped {
        Skipped {
            source: display_path(path),
            instance,
            reason,
            detail: None,
        }
    }
}

#[derive(Debug, Default)]
pub struct Plan {
    pub files: Vec<PlannedFile>,
    pub skipped: Vec<Skipped>,
    pub problems: Vec<Problem>,
    /// Leave out files that hold secrets by name (off only with the override).
    deny_secrets: bool,
}

impl Plan {
    pub fn total_planned_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.planned_size).sum()
    }
}

/// Plan what `sources` collect. `allow_secret_files` is the loud override
/// that lets key files, kubeconfigs and Lima's `_config` through include globs.
pub fn plan(sources: &Sources, allow_secret_files: bool) -> Plan {
    let mut plan = Plan {
        deny_secrets: !allow_secret_files,
        ..Plan::default()
    };
    for instance in &sources.instances {
        if let Some(log_dir) = &instance.log_dir
            && exists(log_dir, instance, "log dir", &mut plan)
        {
            plan_log_dir(instance, log_dir, &mut plan);
        }
        if let Some(lima_home) = &instance.lima_home
            && exists(lima_home, instance, "Lima home", &mut plan)
        {
            plan_lima_home(instance, lima_home, &mut plan);
        }
    }
    for include in &sources.includes {
        plan_include(include, &mut plan);
    }
    make_paths_unique(&mut plan);
    plan.files.sort_by(|a, b| a.path.cmp(&b.path));
    plan.skipped.sort_by(|a, b| a.source.cmp(&b.source));
    plan
}

/// A missing folder is not an error (an instance that never started has
/// none), but it is worth a warning: it is also what a typo looks like.
fn exists(dir: &Path, instance: &Instance, what: &str, plan: &mut Plan) -> bool {
    if fs::symlink_metadata(dir).is_ok() {
        return true;
    }
    plan.problems.push(Problem::new(
        dir,
        format!(
            "{what} of instance {} not found; nothing collected from it (did the instance run?)",
            instance.name
        ),
    ));
    false
}

/// An entry of a listed folder, with its type as seen without following links.
struct Listed {
    path: PathBuf,
    name: String,
    file_type: FileType,
    size: u64,
}

/// List a folder's entries, sorted. A missing folder is empty: an instance
/// that never started has none.
fn list(dir: &Path, instance: &Instance, plan: &mut Plan) -> Vec<Listed> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            plan.problems.push(Problem::io(dir, "list folder", &e));
            plan.skipped
                .push(skipped(dir, Some(instance), SkipReason::Unreadable));
            return Vec::new();
        }
    };
    let mut listed = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                plan.problems.push(Problem::io(dir, "list folder", &e));
                continue;
            }
        };
        let path = entry.path();
        // symlink_metadata, not metadata: never follow a link while planning.
        match fs::symlink_metadata(&path) {
            Ok(meta) => listed.push(Listed {
                name: archive_component(&entry.file_name()).0,
                file_type: meta.file_type(),
                size: meta.len(),
                path,
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {} // gone since listed
            Err(e) => {
                plan.problems.push(Problem::io(&path, "inspect", &e));
                plan.skipped
                    .push(skipped(&path, Some(instance), SkipReason::Unreadable));
            }
        }
    }
    listed.sort_by(|a, b| a.path.cmp(&b.path));
    listed
}

fn plan_log_dir(instance: &Instance, log_dir: &Path, plan: &mut Plan) {
    for entry in list(log_dir, instance, plan) {
        if entry.file_type.is_dir() {
            // A folder in the log dir holds the preserved logs of a deleted VM.
            let vm = preserved_vm_name(&entry.name);
            let folder = format!("{}/{}", instance.name, entry.name);
            plan_log_folder(
                instance,
                &entry.path,
                &folder,
                Some(vm),
                |_| Kind::Preserved,
                plan,
            );
        } else {
            let folder = instance.name.clone();
            plan_log_file(instance, entry, &folder, None, service_kind, plan);
        }
    }
}

fn plan_lima_home(instance: &Instance, lima_home: &Path, plan: &mut Plan) {
    for entry in list(lima_home, instance, plan) {
        if entry.file_type.is_dir() && entry.name == "_config" {
            plan.skipped
                .push(skipped(&entry.path, Some(instance), SkipReason::LimaConfig));
        } else if entry.file_type.is_dir() && entry.name.starts_with('_') {
            plan.skipped
                .push(skipped(&entry.path, Some(instance), SkipReason::NotAVm));
        } else if entry.file_type.is_dir() {
            let folder = format!("{}/lima-{}", instance.name, entry.name);
            let vm = entry.name.clone();
            plan_log_folder(instance, &entry.path, &folder, Some(vm), vm_kind, plan);
        } else {
            let reason = skip_reason(&entry.file_type).unwrap_or(SkipReason::NotAVm);
            plan.skipped
                .push(skipped(&entry.path, Some(instance), reason));
        }
    }
}

/// The `*.log` files directly in a VM folder; anything deeper is skipped.
fn plan_log_folder(
    instance: &Instance,
    dir: &Path,
    folder: &str,
    vm: Option<String>,
    kind: fn(&str) -> Kind,
    plan: &mut Plan,
) {
    for entry in list(dir, instance, plan) {
        if entry.file_type.is_dir() {
            plan.skipped.push(skipped(
                &entry.path,
                Some(instance),
                SkipReason::NestedFolder,
            ));
        } else {
            plan_log_file(instance, entry, folder, vm.clone(), kind, plan);
        }
    }
}

fn plan_log_file(
    instance: &Instance,
    entry: Listed,
    folder: &str,
    vm: Option<String>,
    kind: fn(&str) -> Kind,
    plan: &mut Plan,
) {
    let parsed = parse_log_name(&entry.name);
    if let Some(reason) = skip_reason(&entry.file_type) {
        plan.skipped
            .push(skipped(&entry.path, Some(instance), reason));
        return;
    }
    let Some((log, rotation)) = parsed else {
        plan.skipped
            .push(skipped(&entry.path, Some(instance), SkipReason::NotALog));
        return;
    };
    if let Some(rule) = secret_by_name(&entry.name).filter(|_| plan.deny_secrets) {
        let mut skip = skipped(&entry.path, Some(instance), SkipReason::Secret);
        skip.detail = Some(rule.to_string());
        plan.skipped.push(skip);
        return;
    }
    plan.files.push(PlannedFile {
        path: format!("{folder}/{}", entry.name),
        instance: Some(instance.name.clone()),
        vm,
        kind: kind(log),
        log: Some(log.to_string()),
        rotation,
        planned_size: entry.size,
        source: entry.path,
    });
}

/// Regular files are collected; everything else is skipped for its type.
fn skip_reason(file_type: &FileType) -> Option<SkipReason> {
    if file_type.is_file() {
        return None;
    }
    if file_type.is_symlink() {
        return Some(SkipReason::Symlink);
    }
    if file_type.is_dir() {
        return Some(SkipReason::Directory);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_socket() {
            return Some(SkipReason::Socket);
        }
        if file_type.is_fifo() {
            return Some(SkipReason::Fifo);
        }
    }
    Some(SkipReason::Device)
}

fn service_kind(log: &str) -> Kind {
    match log {
        "guest-journal" | "lima-init" => Kind::Guest,
        _ => Kind::Service,
    }
}

fn vm_kind(log: &str) -> Kind {
    if log.starts_with("ha.") {
        Kind::Hostagent
    } else if log.starts_with("serial") {
        Kind::Serial
    } else {
        Kind::Vm
    }
}

/// `test-vm.2` → `test-vm`: preservation adds `.N` when the folder was taken.
/// Lima VM names have no dots, so the suffix is unambiguous.
fn preserved_vm_name(folder: &str) -> String {
    match folder.rsplit_once('.') {
        Some((vm, n))
            if !vm.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) =>
        {
            vm.to_string()
        }
        _ => folder.to_string(),
    }
}

/// Files matching an include glob. The walk starts at the glob's fixed prefix
/// and never follows a symbolic link, so a link loop or a link out of the
/// tree cannot pull anything in.
fn plan_include(include: &Include, plan: &mut Plan) {
    let matcher = match globset::GlobBuilder::new(&include.pattern)
        .literal_separator(true)
        .build()
    {
        Ok(glob) => glob.compile_matcher(),
        Err(e) => {
            plan.problems.push(Problem::new(
                Path::new(&include.pattern),
                format!("not a valid glob: {e}"),
            ));
            return;
        }
    };
    let base = glob_base(&include.pattern);
    // Without `**`, nothing deeper than the pattern's own depth can match.
    let depth = match include.pattern.contains("**") {
        true => usize::MAX,
        false => Path::new(&include.pattern).components().count() - base.components().count(),
    };
    let mut walk = walkdir::WalkDir::new(&base)
        .follow_links(false)
        .max_depth(depth)
        .sort_by_file_name()
        .into_iter();
    let mut matched = 0usize;
    while let Some(result) = walk.next() {
        let entry = match result {
            Ok(entry) => entry,
            Err(e)
                if e.io_error()
                    .is_some_and(|io| io.kind() == io::ErrorKind::NotFound) =>
            {
                continue;
            }
            Err(e) => {
                let path = e.path().unwrap_or(&base).to_path_buf();
                plan.problems.push(Problem::new(
                    &path,
                    format!("cannot read while matching include glob: {e}"),
                ));
                plan.skipped
                    .push(skipped(&path, None, SkipReason::Unreadable));
                continue;
            }
        };
        let file_type = entry.file_type();
        if file_type.is_dir() && entry.file_name() == "_config" && plan.deny_secrets {
            // Lima's _config holds the SSH key of every VM: no glob reaches it.
            plan.skipped
                .push(skipped(entry.path(), None, SkipReason::LimaConfig));
            walk.skip_current_dir();
            continue;
        }
        if file_type.is_dir() || !matcher.is_match(entry.path()) {
            continue;
        }
        matched += 1;
        let path = entry.path().to_path_buf();
        if let Some(rule) =
            secret_by_name(&entry.file_name().to_string_lossy()).filter(|_| plan.deny_secrets)
        {
            let mut skip = skipped(&path, None, SkipReason::Secret);
            skip.detail = Some(rule.to_string());
            plan.skipped.push(skip);
            continue;
        }
        if let Some(reason) = skip_reason(&file_type) {
            plan.skipped.push(skipped(&path, None, reason));
            continue;
        }
        let size = entry.metadata().map_or(0, |m| m.len());
        let relative = path.strip_prefix(&base).unwrap_or(&path);
        let parts: Vec<String> = relative
            .components()
            .filter_map(|c| match c {
                std::path::Component::Normal(part) => Some(archive_component(part).0),
                _ => None,
            })
            .collect();
        let file_name = parts.last().cloned().unwrap_or_default();
        let parsed = parse_log_name(&file_name);
        plan.files.push(PlannedFile {
            path: format!("{}/{}", include.into, parts.join("/")),
            instance: None,
            vm: None,
            kind: Kind::Extra,
            log: parsed.map(|(log, _)| log.to_string()),
            rotation: parsed.and_then(|(_, n)| n),
            planned_size: size,
            source: path,
        });
    }
    if matched == 0 {
        plan.problems.push(Problem::new(
            Path::new(&include.pattern),
            "include glob matched no file; check the pattern and the folder it starts from",
        ));
    }
}

/// The fixed folder a glob starts from: its components before the first one
/// with a wildcard (`/x/_diag/**/*.txt` → `/x/_diag`).
fn glob_base(pattern: &str) -> PathBuf {
    let mut base = PathBuf::new();
    let path = Path::new(pattern);
    let count = path.components().count();
    for (i, component) in path.components().enumerate() {
        let text = component.as_os_str().to_string_lossy();
        if i + 1 == count || text.contains(['*', '?', '[']) {
            break;
        }
        base.push(component);
    }
    base
}

/// Two sources can map to one archive path (a VM named `lima-x` preserved,
/// next to VM `x` still in the Lima home): keep both, the later as `name~2.log`.
fn make_paths_unique(plan: &mut Plan) {
    let mut taken = BTreeSet::new();
    for file in &mut plan.files {
        if taken.insert(file.path.clone()) {
            continue;
        }
        let (stem, ext) = match file.path.rsplit_once('.') {
            Some((stem, ext)) if !ext.contains('/') => (stem.to_string(), format!(".{ext}")),
            _ => (file.path.clone(), String::new()),
        };
        let unique = (2..)
            .map(|n| format!("{stem}~{n}{ext}"))
            .find(|candidate| !taken.contains(candidate))
            .expect("an unbounded range finds a free name");
        plan.problems.push(Problem::new(
            &file.source,
            format!(
                "another file already goes to {}; stored as {unique}",
                file.path
            ),
        ));
        taken.insert(unique.clone());
        file.path = unique;
    }
}

fn skipped(path: &Path, instance: Option<&Instance>, reason: SkipReason) -> Skipped {
    Skipped::new(path, instance.map(|i| i.name.clone()), reason)
}

/// Files that hold secrets by their name: never collected, whatever glob
/// names them, unless the user passes the loudly named override.
pub fn secret_by_name(file_name: &str) -> Option<&'static str> {
    let lower = file_name.to_ascii_lowercase();
    if lower.starts_with("id_") && !lower.ends_with(".pub") {
        Some("an SSH private key by its name (id_*)")
    } else if lower.ends_with(".key") {
        Some("a private key by its name (*.key)")
    } else if matches!(lower.as_str(), "kube.config" | "k3s.yaml" | "kubeconfig")
        || lower.ends_with(".kubeconfig")
    {
        Some("a kubeconfig (cluster credentials)")
    } else if lower == "vncpassword" {
        Some("the VM's VNC password")
    } else if matches!(lower.as_str(), "config.yaml" | "config.json") {
        Some("a service configuration (may hold credentials)")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_base_stops_at_the_first_wildcard() {
        assert_eq!(glob_base("/x/_diag/**/*.txt"), PathBuf::from("/x/_diag"));
        assert_eq!(glob_base("/x/_diag/*"), PathBuf::from("/x/_diag"));
        assert_eq!(
            glob_base("/x/_diag/machine-info.txt"),
            PathBuf::from("/x/_diag")
        );
    }

    #[test]
    fn preserved_folder_suffix_is_not_part_of_the_vm_name() {
        assert_eq!(preserved_vm_name("test-vm.2"), "test-vm");
        assert_eq!(preserved_vm_name("test-vm"), "test-vm");
        assert_eq!(preserved_vm_name("test-vm.x"), "test-vm.x");
    }
}
