//! No secret leaves the machine: deny-listed files are never collected, and
//! secrets inside collected logs are replaced by a marker naming what was
//! removed. The planted secrets are built here from pieces, so that no
//! secret-shaped string sits in the repository for scanners to trip over.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use common::{logkeep, manifest_json, read_tree, run, run_ok, stderr};

struct Planted {
    /// What must not survive anywhere in the output.
    secrets: Vec<String>,
    /// Per log (archive path): the markers that must stand where secrets were.
    markers: BTreeMap<&'static str, Vec<&'static str>>,
}

fn fake(prefix: &str, len: usize) -> String {
    let alphabet = b"AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";
    let body: String = (0..len)
        .map(|i| alphabet[(i * 7 + prefix.len()) % alphabet.len()] as char)
        .collect();
    format!("{prefix}{body}")
}

/// An rdd-style tree full of fake secrets, in every log format and odd place.
fn plant(root: &Path) -> Planted {
    let log_dir = root.join("logs");
    let vm = log_dir.join("test-vm.2");
    let extra = root.join("extra-files");
    for dir in [&log_dir, &vm, &extra] {
        fs::create_dir_all(dir).unwrap();
    }
    let ghp = fake("ghp_", 36);
    let pat = fake("github_pat_", 60);
    let ghs = fake("ghs_", 36);
    let akia = format!("AKIA{}", "QWERTYUIOPASDFGH");
    let aws_secret = fake("", 40).replace('_', "x");
    let bearer = fake("", 32);
    let bearer2 = fake("b2", 30);
    let jwt = format!("eyJ{}.eyJ{}.{}", fake("", 20), fake("", 30), fake("", 25));
    let url_pass = "hunter2-url-pass".to_string();
    let logfmt_pass = "s3cr3t-logfmt-pw".to_string();
    let json_pass = "json-pass-9f8e7d".to_string();
    let export_pw = "export-db-pw-1234".to_string();
    let env_token = fake("tok", 24);
    let kube_key = fake("LS0tLS1", 48);
    let kube_token = fake("kt", 40);
    let pem_body = [fake("MIIEow", 60), fake("AQAB", 60), fake("zz", 40)];

    fs::write(
        log_dir.join("rdd.stderr.log"),
        format!(
            "time=\"2026-06-11T04:50:00Z\" level=info msg=\"cloning\" url=\"https://bot:{url_pass}@github.com/o/r.git\"\n\
             time=\"2026-06-11T04:50:01Z\" level=debug msg=\"login\" user=ci password={logfmt_pass} attempt=1\n\
             I0611 04:50:02.017245    5123 auth.go:37] \"using token\" token=\"{ghp}\"\n\
             time=\"2026-06-11T04:50:03Z\" level=info msg=\"request\" header=\"Authorization: Bearer {bearer}\"\n\
             === BATS: 2026-06-11T04:50:04+0000 aws creds ===\n\
             aws key {akia} aws_secret_access_key={aws_secret}\n\
             session {jwt}\n\
             bytes \u{e9}t\u{e9} then token={ghp} and more\n\
             retry with bearer {bearer2} now\n"
        ),
    )
    .unwrap();
    // Invalid UTF-8 around a secret stays byte for byte.
    let mut raw = fs::read(log_dir.join("rdd.stderr.log")).unwrap();
    raw.extend_from_slice(b"latin1 \xe9t\xe9 password=");
    raw.extend_from_slice(logfmt_pass.as_bytes());
    raw.extend_from_slice(b" \xff\xfe end\n");
    fs::write(log_dir.join("rdd.stderr.log"), raw).unwrap();
    // A rotated backup whose secret is the very last bytes (no newline).
    fs::write(
        log_dir.join("rdd.stderr.1.log"),
        format!("=== rdd ===\nold run\nGITHUB_TOKEN={pat}"),
    )
    .unwrap();
    // ps aux and environment dumps, and a PEM block split over lines.
    fs::write(
        log_dir.join("support-bundle.log"),
        format!(
            "USER PID COMMAND\nroot 1 /sbin/init\nci 42 env CI_DEPLOY_TOKEN={env_token} ./run.sh\n\
             export DB_PASSWORD={export_pw}\n\
             -----BEGIN RSA PRIVATE KEY-----\n{}\n{}\n{}\n-----END RSA PRIVATE KEY-----\nafter the key\n",
            pem_body[0], pem_body[1], pem_body[2]
        ),
    )
    .unwrap();
    // JSON lines with secrets inside string escapes, in a preserved VM folder.
    fs::write(
        vm.join("ha.stderr.log"),
        format!(
            "{{\"level\":\"info\",\"msg\":\"cfg\",\"password\":\"{json_pass}\",\"time\":\"2026-06-11T04:50:05Z\"}}\n\
             {{\"level\":\"debug\",\"msg\":\"key -----BEGIN OPENSSH PRIVATE KEY-----\\n{}\\n-----END OPENSSH PRIVATE KEY-----\\n loaded\",\"time\":\"2026-06-11T04:50:06Z\"}}\n\
             {{\"level\":\"info\",\"msg\":\"app token {ghs}\",\"time\":\"2026-06-11T04:50:07Z\"}}\n",
            pem_body[0]
        ),
    )
    .unwrap();
    // A kubeconfig echoed into a serial log, CRLF line ends.
    fs::write(
        vm.join("serial.log"),
        format!("[    2.481223] booting\r\n    client-key-data: {kube_key}\r\n    token: {kube_token}\r\nJun 11 04:50:09 systemd[1]: ok\r\n"),
    )
    .unwrap();
    // Ordinary lines that look a little like secrets and must come through unchanged.
    fs::write(
        log_dir.join("lima-init.log"),
        "LIMA 2026-06-11T04:50:12+00:00| image sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945\n\
         LIMA 2026-06-11T04:50:13+00:00| uuid 123e4567-e89b-12d3-a456-426614174000\n\
         LIMA 2026-06-11T04:50:14+00:00| the token bucket refilled; invalid token rejected\n\
         LIMA 2026-06-11T04:50:15+00:00| password prompt disabled, ssh uses keys\n\
         LIMA 2026-06-11T04:50:16+00:00| digest iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk\n\
         LIMA 2026-06-11T04:50:17+00:00| ünïcödé \u{1b}[31mred\u{1b}[0m done\n",
    )
    .unwrap();
    // Deny-listed files, named by an include glob.
    let pem_key = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        pem_body[1]
    );
    fs::write(extra.join("id_ed25519"), &pem_key).unwrap();
    fs::write(
        extra.join("id_ed25519.pub"),
        "ssh-ed25519 AAAAC3Nza fake@host\n",
    )
    .unwrap();
    fs::write(extra.join("server.key"), &pem_key).unwrap();
    fs::write(extra.join("cert.pem"), &pem_key).unwrap();
    fs::write(
        extra.join("kube.config"),
        format!("users:\n- user:\n    token: {kube_token}\n"),
    )
    .unwrap();
    fs::write(
        extra.join("k3s.yaml"),
        format!("client-key-data: {kube_key}\n"),
    )
    .unwrap();
    fs::write(extra.join("vncpassword"), "vnc-pass-42\n").unwrap();
    fs::write(
        extra.join("config.yaml"),
        format!("password: {json_pass}\n"),
    )
    .unwrap();
    // The .yml spellings are the same files.
    fs::write(extra.join("k3s.yml"), format!("token: {kube_token}\n")).unwrap();
    fs::write(extra.join("config.yml"), format!("password: {json_pass}\n")).unwrap();
    fs::write(extra.join("dump.log"), &pem_key).unwrap();
    fs::write(
        extra.join("machine-info.txt"),
        "OS: ubuntu-24.04\nGITHUB_RUN_ID=123\n",
    )
    .unwrap();

    let secrets = vec![
        ghp,
        pat,
        ghs,
        akia,
        aws_secret,
        bearer,
        bearer2,
        jwt,
        url_pass,
        logfmt_pass,
        json_pass,
        export_pw,
        env_token,
        kube_key,
        kube_token,
        pem_body[0].clone(),
        pem_body[1].clone(),
        pem_body[2].clone(),
        "vnc-pass-42".to_string(),
    ];
    let markers = BTreeMap::from([
        (
            "rdd.stderr.log",
            vec![
                "url-password",
                "password",
                "github-token",
                "authorization",
                "bearer",
                "aws-access-key-id",
                "aws-secret-access-key",
                "jwt",
            ],
        ),
        ("rdd.stderr.1.log", vec!["github-token"]),
        ("support-bundle.log", vec!["env-secret", "private-key"]),
        (
            "test-vm.2/ha.stderr.log",
            vec!["password", "private-key", "github-token"],
        ),
        ("test-vm.2/serial.log", vec!["kubeconfig"]),
    ]);
    Planted { secrets, markers }
}

fn collect(root: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let glob = format!("{}/extra-files/*", root.display());
    run(logkeep()
        .args(["collect", "--instance", "sec", "--log-dir"])
        .arg(root.join("logs"))
        .args(["--include", &glob, "-o"])
        .arg(out)
        .args(extra))
}

fn unpack(archive: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    let name = archive.to_string_lossy();
    let status = if name.ends_with(".zip") {
        Command::new("unzip")
            .arg("-q")
            .arg(archive)
            .arg("-d")
            .arg(to)
            .status()
    } else if name.ends_with(".tar.zst") {
        Command::new("tar")
            .arg("--zstd")
            .arg("-xf")
            .arg(archive)
            .arg("-C")
            .arg(to)
            .status()
    } else {
        Command::new("tar")
            .arg("-xzf")
            .arg(archive)
            .arg("-C")
            .arg(to)
            .status()
    };
    assert!(status.unwrap().success(), "unpacking {name}");
}

#[test]
fn no_planted_secret_survives_in_any_format_and_markers_stand_where_they_were() {
    let root = tempfile::tempdir().unwrap();
    let planted = plant(root.path());
    let originals = read_tree(&root.path().join("logs"));
    let work = tempfile::tempdir().unwrap();
    for format in ["tar.gz", "tar.zst", "zip"] {
        let archive = work.path().join(format!("out.{format}"));
        let out = collect(root.path(), &archive, &[]);
        assert!(out.status.success(), "{}", stderr(&out));
        let unpacked = work.path().join(format);
        unpack(&archive, &unpacked);
        let files = read_tree(&unpacked);
        for (path, bytes) in &files {
            let text = String::from_utf8_lossy(bytes);
            for secret in &planted.secrets {
                assert!(
                    !text.contains(secret.as_str()),
                    "{format}: {path} still holds {secret}"
                );
            }
        }
        for (log, rules) in &planted.markers {
            let key = format!("sec/{log}");
            let text = String::from_utf8_lossy(
                files
                    .get(&key)
                    .unwrap_or_else(|| panic!("{key} not in {:?}", files.keys())),
            )
            .into_owned();
            for rule in rules {
                assert!(
                    text.contains(&format!("[REDACTED:{rule}]")),
                    "{format}: {log} lacks the {rule} marker:\n{text}"
                );
            }
        }
        // Line structure is kept: as many lines as before, in every redacted log.
        for log in planted.markers.keys() {
            let before = originals[*log].iter().filter(|&&b| b == b'\n').count();
            let after = files[&format!("sec/{log}")]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            assert_eq!(before, after, "{format}: {log} kept its lines");
        }
        let last_line = files["sec/rdd.stderr.log"]
            .split(|&b| b == b'\n')
            .rev()
            .nth(1)
            .unwrap()
            .to_vec();
        assert_eq!(
            last_line,
            b"latin1 \xe9t\xe9 password=[REDACTED:password] \xff\xfe end".to_vec(),
            "{format}: bytes outside secrets kept"
        );
        // Ordinary lines come through byte for byte.
        assert_eq!(
            files["sec/lima-init.log"], originals["lima-init.log"],
            "{format}: false positives"
        );

        let manifest = manifest_json(&unpacked.join("manifest.json"));
        assert_eq!(manifest["redaction"]["enabled"], true);
        let record = |path: &str| {
            manifest["files"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["path"] == path)
                .unwrap()
                .clone()
        };
        assert!(
            record("sec/rdd.stderr.log")["redactions"]["github-token"]
                .as_u64()
                .unwrap()
                >= 1
        );
        assert!(record("sec/lima-init.log").get("redactions").is_none());
        // Checksums describe what is in the archive.
        let list: String = manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                format!(
                    "{}  {}\n",
                    f["sha256"].as_str().unwrap(),
                    f["path"].as_str().unwrap()
                )
            })
            .collect();
        fs::write(work.path().join("sums"), list).unwrap();
        let check = Command::new("sha256sum")
            .arg("-c")
            .arg("--quiet")
            .arg(work.path().join("sums"))
            .current_dir(&unpacked)
            .status()
            .unwrap();
        assert!(check.success(), "{format}: checksums of redacted files");
        let text = fs::read_to_string(unpacked.join("manifest.json")).unwrap();
        for secret in &planted.secrets {
            assert!(
                !text.contains(secret.as_str()),
                "the manifest never holds a secret"
            );
        }
    }
}

#[test]
fn deny_listed_files_are_absent_even_when_a_glob_names_them() {
    let root = tempfile::tempdir().unwrap();
    plant(root.path());
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    assert!(
        collect(root.path(), &out_dir, &["--format", "dir"])
            .status
            .success()
    );
    let files = read_tree(&out_dir);
    let extra: Vec<&String> = files.keys().filter(|p| p.starts_with("extra/")).collect();
    assert_eq!(
        extra,
        vec!["extra/id_ed25519.pub", "extra/machine-info.txt"],
        "only the harmless files"
    );
    let manifest = manifest_json(&out_dir.join("manifest.json"));
    let secret_skips: Vec<String> = manifest["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["reason"] == "secret")
        .map(|s| {
            assert!(s["detail"].as_str().is_some_and(|d| !d.is_empty()), "{s}");
            Path::new(s["source"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    for name in [
        "id_ed25519",
        "server.key",
        "cert.pem",
        "kube.config",
        "k3s.yaml",
        "k3s.yml",
        "vncpassword",
        "config.yaml",
        "config.yml",
        "dump.log",
    ] {
        assert!(
            secret_skips.iter().any(|s| s == name),
            "{name} recorded as a secret skip: {secret_skips:?}"
        );
    }
    common::validate_manifest(&out_dir.join("manifest.json"));

    // Only the loudly named flag lets them through.
    let unsafe_dir = work.path().join("unsafe");
    assert!(
        collect(
            root.path(),
            &unsafe_dir,
            &["--format", "dir", "--unsafe-include-secret-files"]
        )
        .status
        .success()
    );
    assert!(read_tree(&unsafe_dir).contains_key("extra/server.key"));
}

/// Passwords as cloud-init, YAML and command lines print them; the words
/// alone, in prose, stay.
#[test]
fn yaml_style_and_command_line_passwords_are_redacted() {
    let root = tempfile::tempdir().unwrap();
    let logs = root.path().join("logs");
    fs::create_dir_all(&logs).unwrap();
    fs::write(
        logs.join("lima-init.log"),
        "LIMA| chpasswd:\n  password: hunter4-yaml\n\
         + rdctl login --user ci --password hunter6-flag --port 6443\n\
         settings: {my_api_key: sk-1234567890abcdef, region: eu}\n\
         \"password\": \"json-spaced-pw\"\n\
         password prompt disabled, ssh uses keys\n\
         the password is rotated nightly\n",
    )
    .unwrap();
    let out_dir = root.path().join("out");
    let out = run(logkeep()
        .args(["collect", "--instance", "sec", "--log-dir"])
        .arg(&logs)
        .args(["--format", "dir", "-o"])
        .arg(&out_dir));
    assert!(out.status.success(), "{}", common::stderr(&out));
    let text = fs::read_to_string(out_dir.join("sec/lima-init.log")).unwrap();
    for secret in [
        "hunter4-yaml",
        "hunter6-flag",
        "sk-1234567890abcdef",
        "json-spaced-pw",
    ] {
        assert!(!text.contains(secret), "{secret} survived:\n{text}");
    }
    assert!(
        text.contains("  password: [REDACTED:password]\n")
            && text.contains("--password [REDACTED:password] --port 6443"),
        "{text}"
    );
    assert!(
        text.contains("password prompt disabled, ssh uses keys\n")
            && text.contains("the password is rotated nightly\n"),
        "{text}"
    );
}

#[test]
fn no_redact_keeps_logs_as_they_are_and_says_so() {
    let root = tempfile::tempdir().unwrap();
    plant(root.path());
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    assert!(
        collect(root.path(), &out_dir, &["--format", "dir", "--no-redact"])
            .status
            .success()
    );
    assert_eq!(
        fs::read(out_dir.join("sec/rdd.stderr.log")).unwrap(),
        fs::read(root.path().join("logs/rdd.stderr.log")).unwrap()
    );
    let manifest = manifest_json(&out_dir.join("manifest.json"));
    assert_eq!(manifest["redaction"]["enabled"], false);
}

#[test]
fn user_rules_and_masked_environment_values() {
    let root = tempfile::tempdir().unwrap();
    plant(root.path());
    fs::write(
        root.path().join("logs/custom.log"),
        "the ticket bot says acme_ABCDEFGHIJKLMNOPQRSTUV and the deploy key is correct-horse-battery\n",
    )
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    let out = run(logkeep()
        .env("LOGKEEP_TEST_DEPLOY_KEY", "correct-horse-battery")
        .args([
            "collect",
            "--format",
            "dir",
            "--instance",
            "sec",
            "--log-dir",
        ])
        .arg(root.path().join("logs"))
        .args([
            "--redact",
            r"acme-token=acme_[A-Za-z0-9]{20,}",
            "--mask-env",
            "LOGKEEP_TEST_DEPLOY_KEY",
            "-o",
        ])
        .arg(&out_dir));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = fs::read_to_string(out_dir.join("sec/custom.log")).unwrap();
    assert_eq!(
        text,
        "the ticket bot says [REDACTED:acme-token] and the deploy key is [REDACTED:literal]\n"
    );

    let bad = run(logkeep()
        .args([
            "collect",
            "--instance",
            "x",
            "--log-dir",
            "/tmp",
            "--redact",
            "bad=(",
            "-o",
        ])
        .arg(work.path().join("x.zip")));
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("bad"), "{}", stderr(&bad));
}

#[test]
fn a_secret_split_across_read_buffers_is_still_caught() {
    let root = tempfile::tempdir().unwrap();
    let logs = root.path().join("logs");
    fs::create_dir_all(&logs).unwrap();
    let token = fake("ghp_", 36);
    // Put the token across the 256 KiB read boundary, then across 1 MiB;
    // in c.log its trigger `ghp_` itself is split by the scan's first 1 MiB
    // read (the scan must keep the tail of each read for the next).
    let logs_at = [
        ("a.log", 256 * 1024 - 10),
        ("b.log", (1 << 20) - 17),
        ("c.log", (1 << 20) - 3),
    ];
    for (name, at) in logs_at {
        let mut data = vec![b'x'; at];
        data.extend_from_slice(format!(" {token} tail\n").as_bytes());
        fs::write(logs.join(name), data).unwrap();
    }
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    run_ok(
        logkeep()
            .args(["collect", "--format", "dir", "--instance", "s", "--log-dir"])
            .arg(&logs)
            .arg("-o")
            .arg(&out_dir),
    );
    for (name, _) in logs_at {
        let text = fs::read_to_string(out_dir.join("s").join(name)).unwrap();
        assert!(!text.contains(&token), "{name}");
        assert!(text.ends_with(" [REDACTED:github-token] tail\n"), "{name}");
    }
}

/// An environment variable as a name/value pair: Kubernetes' and ECS's
/// JSON, YAML's flow style, Go's dump of an `EnvVar`, and over two lines
/// Kubernetes' YAML, pretty-printed JSON and Terraform's plans (also behind
/// a source's prefix, among colour codes, and across the streamed reader's
/// 256 KiB reads of a large log); a key in the value is removed whole.
/// Variables whose name is not a secret's keep their value, and so do a
/// secret's `valueFrom`, a number's closing bracket and a `value` key of a
/// mapping inside.
#[test]
fn name_value_pairs_of_secret_variables_are_redacted() {
    let log = "{\"name\":\"DB_PASSWORD\",\"value\":\"hunter1val\"},{\"name\":\"HOME\",\"value\":\"/root\"}\n\
               \"environment\": [{\"name\": \"API_TOKEN\", \"value\": \"hunter2val\"}]\n\
               env: [{name: client_secret, value: hunter3val}]\n\
               I0611 04:50:02 pod.go:12] env {Name:AWS_SECRET_ACCESS_KEY Value:hunter4val ValueFrom:nil}\n\
               msg=\"spec: {\\\"name\\\":\\\"githubToken\\\",\\\"value\\\":\\\"hunter5val\\\"}\"\n\
               \x20       - name: DB_PASSWORD\n\
               \x20         value: hunter6val\n\
               \x20       - name: \"SLACK_TOKEN\"\n\
               \x20         value: \"hunter7val\"\n\
               web-1  | 04:50:01   - name: REGISTRY_PASS\n\
               web-1  | 04:50:02     value: 'hunter8 val'\n\
               - name: TOKEN_URL\n  value: https://example.com/kept\n\
               - name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef: {name: db, key: password}\n\
               - name: API_KEY\n  image: busybox\n  value: kept-not-after-its-name\n\
               \x20           \"name\": \"DB_PASSWORD\",\n\
               \x20           \"value\": \"hunter9val\"\n\
               \x20     + name  = \"DB_PASSWORD\"\n\
               \x20     + value = \"hunter10val\"\n\
               - \x1b[36mname\x1b[0m: \x1b[32mDB_PASSWORD\x1b[0m\n\
               \x20 \x1b[36mvalue\x1b[0m: \x1b[32mhunter11val\x1b[0m\n\
               {Name:DB_PASSWORD Value:hunter12val horse ValueFrom:nil}\n\
               {\"name\":\"apiKey\",\"value\":\"hunter13val\"}\n\
               [{\"name\":\"retry_token\",\"value\":14},{\"name\":\"HOME\",\"value\":\"/root\"}]\n\
               {Name:DB_PASSWORD Value: ValueFrom:0xc00012a0f0}\n\
               \x20 selector:\n    name: api-token\n  value: 5\n\
               \x20       - name: TLS_KEY\n\
               \x20         value: \"-----BEGIN RSA PRIVATE KEY-----\n\
               MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw\n\
               -----END RSA PRIVATE KEY-----\"\n\
               {\"name\":\"DB_PASSWORD\",\"value\":\"p,hunter14val\"}\n\
               msg=\"{\\\"name\\\":\\\"API_TOKEN\\\",\\\"value\\\":\\\"it's,hunter15val\\\"}\"\n";
    let text = collect_numbered_secrets("a.log", log, 15);
    assert!(
        !text.contains("hunter8") && !text.contains("horse"),
        "{text}"
    );
    assert!(!text.contains("MIIEow"), "{text}");
    for kept in [
        "{\"name\":\"DB_PASSWORD\",\"value\":\"[REDACTED:env-value]\"},{\"name\":\"HOME\",\"value\":\"/root\"}\n",
        "{Name:AWS_SECRET_ACCESS_KEY Value:[REDACTED:env-value] ValueFrom:nil}\n",
        "        - name: DB_PASSWORD\n          value: [REDACTED:env-value]\n",
        "          value: \"[REDACTED:env-value]\"\n",
        "web-1  | 04:50:02     value: '[REDACTED:env-value]'\n",
        "- name: TOKEN_URL\n  value: https://example.com/kept\n",
        "  valueFrom:\n    secretKeyRef: {name: db, key: password}\n",
        "  value: kept-not-after-its-name\n",
        "  \x1b[36mvalue\x1b[0m: \x1b[32m[REDACTED:env-value]\x1b[0m\n",
        "{Name:DB_PASSWORD Value:[REDACTED:env-value] ValueFrom:nil}\n",
        "\"value\":[REDACTED:env-value]},{\"name\":\"HOME\",\"value\":\"/root\"}]\n",
        "{Name:DB_PASSWORD Value: ValueFrom:0xc00012a0f0}\n",
        "  selector:\n    name: api-token\n  value: 5\n",
        "{\"name\":\"DB_PASSWORD\",\"value\":\"[REDACTED:env-value]\"}\n",
        "\\\"value\\\":\\\"[REDACTED:env-value]\\\"}\"\n",
    ] {
        assert!(text.contains(kept), "{kept:?} in {text}");
    }

    // A large log, read 256 KiB at a time: the name's line ends one read,
    // its value starts the next.
    let entry = "- name: DB_PASSWORD\n";
    let mut big = "filler line of a large log\n".repeat(256 * 1024 / 27 + 1);
    big.truncate(256 * 1024 - entry.len() - 1);
    big.push('\n');
    big.push_str(entry);
    assert_eq!(big.len(), 256 * 1024);
    big.push_str("  value: hunter99val\n");
    big.push_str(&"more filler\n".repeat(100_000));
    let text = collect_one_log("big.log", big.as_bytes(), &[]);
    let text = String::from_utf8_lossy(&text);
    assert!(!text.contains("hunter99val"));
    assert!(
        text.contains("- name: DB_PASSWORD\n  value: [REDACTED:env-value]\nmore filler\n"),
        "{}",
        &text[256 * 1024 - 100..256 * 1024 + 100]
    );
}

/// Regressions: one rule's marker must not hide another's match, a mentioned
/// key header must not blank the rest of the log, and a masked value must be
/// masked whole even where a rule matches part of it.
#[test]
fn overlapping_rules_mentions_and_masked_values() {
    let root = tempfile::tempdir().unwrap();
    let logs = root.path().join("logs");
    fs::create_dir_all(&logs).unwrap();
    let body = fake("b3Blbn", 64);
    fs::write(
        logs.join("env.log"),
        format!(
            "SSH_KEY=-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----\n\
             error: want \"-----BEGIN RSA PRIVATE KEY-----\" in the file\n\
             the next line explains the failure\n\
             url https://u:p@ss;word9@host and password=p@ss;word9 done\n"
        ),
    )
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    run_ok(
        logkeep()
            .env("LOGKEEP_TEST_MASKED", "p@ss;word9")
            .args([
                "collect",
                "--format",
                "dir",
                "--mask-env",
                "LOGKEEP_TEST_MASKED",
                "--instance",
                "s",
                "--log-dir",
            ])
            .arg(&logs)
            .arg("-o")
            .arg(&out_dir),
    );
    let text = fs::read_to_string(out_dir.join("s/env.log")).unwrap();
    assert!(!text.contains(&body), "the key body is gone:\n{text}");
    assert!(
        text.contains("the next line explains the failure"),
        "a mention does not blank the log:\n{text}"
    );
    assert!(!text.contains("word9"), "masked whole:\n{text}");
    assert_eq!(text.lines().count(), 6, "{text}");
}

/// A secret near the point where a very long line is cut into pieces.
#[test]
fn a_secret_at_a_long_line_cut_is_caught() {
    let root = tempfile::tempdir().unwrap();
    let logs = root.path().join("logs");
    fs::create_dir_all(&logs).unwrap();
    let token = fake("ghp_", 36);
    // No newline for 3 MiB; key and value land around the first piece's cut.
    let mut data = vec![b'x'; (1 << 20) - 64 * 1024 - 10];
    data.extend_from_slice(format!(" Authorization: Bearer {token} ").as_bytes());
    data.extend(std::iter::repeat_n(b'y', 2 << 20));
    data.push(b'\n');
    fs::write(logs.join("long.log"), &data).unwrap();
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    run_ok(
        logkeep()
            .args(["collect", "--format", "dir", "--instance", "s", "--log-dir"])
            .arg(&logs)
            .arg("-o")
            .arg(&out_dir),
    );
    let text = fs::read(out_dir.join("s/long.log")).unwrap();
    assert!(!String::from_utf8_lossy(&text).contains(&token));
    assert!(String::from_utf8_lossy(&text).contains("[REDACTED:"));
}

#[test]
fn url_passwords_with_odd_users_and_secrets_after_colour_codes_are_redacted() {
    let root = tempfile::tempdir().unwrap();
    let logs = root.path().join("logs");
    fs::create_dir_all(&logs).unwrap();
    fs::write(
        logs.join("serial.log"),
        "clone https://me@corp.com:email-pw1@host/x\n\
         cache redis://:only-pw2@cache:6379/0\n\
         login https://user:p@ss-pw3@host/y\n\
         \x1b[0;32mpassword=ansi-pw4\x1b[0m\n\
         \x1b[1mtoken=ansi-tok5\n\
         \x1b[1mDEPLOY_TOKEN=ansi-env6 done\n\
         plain https://host:8080/a@b and ssh://git@host:22/repo stay\n",
    )
    .unwrap();
    let out_dir = root.path().join("out");
    run_ok(
        logkeep()
            .args(["collect", "--instance", "sec", "--log-dir"])
            .arg(&logs)
            .args(["--format", "dir", "-o"])
            .arg(&out_dir),
    );
    let text = fs::read_to_string(out_dir.join("sec/serial.log")).unwrap();
    for secret in ["pw1", "pw2", "pw3", "p@ss", "pw4", "tok5", "env6"] {
        assert!(!text.contains(secret), "{secret} survived:\n{text}");
    }
    assert!(
        text.contains("https://me@corp.com:[REDACTED:url-password]@host/x")
            && text.contains("\x1b[0;32mpassword=[REDACTED:password]\x1b[0m"),
        "{text}"
    );
    assert!(
        text.contains("plain https://host:8080/a@b and ssh://git@host:22/repo stay"),
        "{text}"
    );
}

/// `--mask-env` of a variable that is unset is worth a warning (nothing is
/// masked), and `--quiet` keeps it off stderr, as its help says.
#[test]
fn an_unset_mask_env_variable_is_warned_about_unless_quiet() {
    let logs = tempfile::tempdir().unwrap();
    fs::write(logs.path().join("a.log"), "line\n").unwrap();
    let work = tempfile::tempdir().unwrap();
    let collect = |quiet: bool| {
        let mut command = logkeep();
        command
            .env_remove("LOGKEEP_TEST_UNSET")
            .args(["collect", "--format", "dir", "--force"])
            .args(["--mask-env", "LOGKEEP_TEST_UNSET", "--instance", "s"])
            .arg("--log-dir")
            .arg(logs.path())
            .arg("-o")
            .arg(work.path().join("out"));
        if quiet {
            command.arg("--quiet");
        }
        stderr(&run_ok(&mut command))
    };
    let err = collect(false);
    assert!(
        err.contains("--mask-env LOGKEEP_TEST_UNSET: the variable is unset"),
        "{err}"
    );
    assert_eq!(collect(true), "");
}

/// Collect one log of the given bytes into a folder; the bytes archived.
fn collect_one_log(name: &str, data: &[u8], extra: &[&str]) -> Vec<u8> {
    collect_one_log_by(logkeep(), name, data, extra)
}

/// `log` collected alone, after checking that none of its secrets
/// `hunter1val` … `hunter{count}val` is left (values that hold no literal a
/// rule keys on, so only the key before each can find it).
fn collect_numbered_secrets(name: &str, log: &str, count: usize) -> String {
    let text = collect_one_log(name, log.as_bytes(), &[]);
    let text = String::from_utf8_lossy(&text).into_owned();
    for n in 1..=count {
        let secret = format!("hunter{n}val");
        assert!(!text.contains(&secret), "{secret} kept: {text:?}");
    }
    text
}

/// `collect_one_log`, run by `command` (logkeep with its environment set).
fn collect_one_log_by(mut command: Command, name: &str, data: &[u8], extra: &[&str]) -> Vec<u8> {
    let root = tempfile::tempdir().unwrap();
    let logs = root.path().join("logs");
    fs::create_dir_all(&logs).unwrap();
    fs::write(logs.join(name), data).unwrap();
    let out_dir = root.path().join("out");
    run_ok(
        command
            .args(["collect", "--format", "dir", "--instance", "s", "--log-dir"])
            .arg(&logs)
            .arg("-o")
            .arg(&out_dir)
            .args(extra),
    );
    fs::read(out_dir.join("s").join(name)).unwrap_or_default()
}

/// A JSON log whose message holds JSON or logfmt escaped once more
/// (`\"password\":\"x\"`, `password=\"x\"`): the key is still found, the
/// value goes, and the escaping around it stays.
#[test]
fn secrets_inside_escaped_json_strings_are_redacted() {
    let text = collect_one_log(
        "ha.stderr.log",
        br#"{"level":"debug","msg":"body {\"user\":\"ci\",\"password\":\"esc-pw-1\"}"}
{"level":"debug","msg":"login user=ci password=\"esc-pw-2\" ok"}
{"level":"debug","msg":"env DEPLOY_TOKEN=\"esc-env-3\""}
{"level":"debug","msg":"headers {\"Authorization\":\"Basic esc-auth-4\"}"}
{"level":"debug","msg":"kube {\"token\":\"esc-kube-token-5\"}"}
"#,
        &[],
    );
    let text = String::from_utf8(text).unwrap();
    for secret in [
        "esc-pw-1",
        "esc-pw-2",
        "esc-env-3",
        "esc-auth-4",
        "esc-kube-token-5",
    ] {
        assert!(!text.contains(secret), "{secret} survived:\n{text}");
    }
    assert!(
        text.contains(r#"\"password\":\"[REDACTED:password]\"}"#)
            && text.contains(r#"password=\"[REDACTED:password]\" ok"#),
        "{text}"
    );
}

/// An armoured PGP private key is a private key too: removed whole from a
/// log, and a file that starts with one is not collected.
#[test]
fn pgp_private_key_blocks_are_redacted_and_key_files_left_out() {
    let body = fake("lQOYBGR", 60);
    let block = format!(
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\n{body}\n=Ab1c\n-----END PGP PRIVATE KEY BLOCK-----\n"
    );
    let log = collect_one_log(
        "gpg.log",
        format!("importing\n{block}done\n").as_bytes(),
        &[],
    );
    let log = String::from_utf8(log).unwrap();
    assert!(!log.contains(&body), "{log}");
    assert_eq!(log.lines().count(), 8, "{log}");
    assert!(
        log.starts_with("importing\n[REDACTED:private-key]\n") && log.ends_with("done\n"),
        "{log}"
    );
    let key_file = collect_one_log("signing.log", block.as_bytes(), &[]);
    assert!(
        key_file.is_empty(),
        "{}",
        String::from_utf8_lossy(&key_file)
    );
}

/// A quoted value runs to its closing quote, blanks and all, and a secret
/// variable that starts its line (as `env` prints it) to the line's end.
#[test]
fn quoted_passphrases_and_env_dump_values_go_whole() {
    let text = collect_one_log(
        "support-bundle.log",
        b"export DB_PASSWORD=\"correct horse battery\"\n\
          password='multi word pass' user=ci\n\
          {\"password\": \"json spaced pw\", \"user\": \"ci\"}\n\
          {\"msg\":\"body {\\\"password\\\":\\\"esc spaced pw\\\",\\\"user\\\":\\\"ci\\\"}\"}\n\
          REGISTRY_PASSWORD=env dump words\n\
          password prompt shown\n",
        &[],
    );
    let text = String::from_utf8(text).unwrap();
    for word in [
        "horse",
        "battery",
        "word pass",
        "spaced",
        "dump",
        "words",
        "ghijk",
    ] {
        assert!(!text.contains(word), "{word} survived:\n{text}");
    }
    assert!(
        text.contains("export DB_PASSWORD=\"[REDACTED:env-secret]\"\n")
            && text.contains("password='[REDACTED:password]' user=ci\n")
            && text.contains("\"[REDACTED:password]\", \"user\": \"ci\"}\n")
            && text.contains("\\\"[REDACTED:password]\\\",\\\"user\\\"")
            && text.contains("password prompt shown\n"),
        "{text}"
    );
}

/// A very long line is redacted in pieces; a key at the end of one piece
/// and its value at the start of the next are still seen together.
#[test]
fn a_key_and_its_value_on_either_side_of_a_long_line_cut_are_caught() {
    let key = " password=";
    let mut data = vec![b'x'; (1 << 20) - 64 * 1024 - key.len()];
    data.extend_from_slice(format!("{key}split-value-7 ").as_bytes());
    data.extend(std::iter::repeat_n(b'y', 2 << 20));
    data.push(b'\n');
    let text = collect_one_log("long.log", &data, &[]);
    let text = String::from_utf8_lossy(&text);
    assert!(!text.contains("split-value-7"));
    assert!(text.contains(" password=[REDACTED:password] y"));
}

/// A masked value is also found as a JSON string or a URL prints it.
#[test]
fn masked_values_are_found_json_escaped_and_percent_encoded() {
    let value = r#"p@ss/w"rd\1"#;
    let log = "plain p@ss/w\"rd\\1\n\
               json {\"pw\":\"p@ss/w\\\"rd\\\\1\"}\n\
               url https://registry/login?pw=p%40ss%2Fw%22rd%5C1&x=1\n\
               lower p%40ss%2fw%22rd%5c1\n";
    let mut command = logkeep();
    command.env("LOGKEEP_TEST_ODD_PW", value);
    let text = collect_one_log_by(
        command,
        "a.log",
        log.as_bytes(),
        &["--mask-env", "LOGKEEP_TEST_ODD_PW"],
    );
    let text = String::from_utf8(text).unwrap();
    assert_eq!(
        text,
        "plain [REDACTED:literal]\n\
         json {\"pw\":\"[REDACTED:literal]\"}\n\
         url https://registry/login?pw=[REDACTED:literal]&x=1\n\
         lower [REDACTED:literal]\n"
    );
}

/// `--max-file-size` keeps a log's head and tail. A cut inside a line (no
/// line end near it) must not split a secret into pieces too short for any
/// rule, nor start the tail inside a private key block: the head ends before
/// such a secret, the tail starts after it.
#[test]
fn a_max_file_size_cut_never_keeps_a_piece_of_a_secret() {
    let token = fake("ghp_", 36);
    let cap = 200_000;
    // A token across the head's end, another across the tail's start.
    let mut data = vec![b'q'; 99_980];
    data.extend_from_slice(format!(" {token} ").as_bytes());
    data.extend(std::iter::repeat_n(b'q', 400_000));
    let secret_at = data.len();
    data.extend_from_slice(format!(" password={token} ").as_bytes());
    // The tail, the last half of the cap, starts in the token's middle.
    let tail_start = secret_at + " password=".len() + token.len() / 2;
    data.resize(tail_start + cap / 2 - 1, b'r');
    data.push(b'\n');
    let text = collect_one_log("long.log", &data, &["--max-file-size", "200000"]);
    let text = String::from_utf8_lossy(&text);
    assert!(text.contains("cut here"), "the log is cut");
    for piece in [&token[..12], &token[token.len() - 12..]] {
        assert!(
            !text.contains(piece),
            "a piece of the token is kept: {piece}"
        );
    }
    // A private key whose BEGIN line is in the part left out.
    let mut lines = String::new();
    for i in 0..3000 {
        lines.push_str(&format!("line {i:05} of the boot\n"));
    }
    lines.push_str("-----BEGIN OPENSSH PRIVATE KEY-----\n");
    for _ in 0..40 {
        lines.push_str("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n");
    }
    lines.push_str("-----END OPENSSH PRIVATE KEY-----\n");
    lines.push_str("the last line\n");
    // The tail (half of the cap) starts among the key's lines.
    let cap = 2 * (1400 + 34);
    let text = collect_one_log(
        "key.log",
        lines.as_bytes(),
        &["--max-file-size", &cap.to_string()],
    );
    let text = String::from_utf8_lossy(&text);
    assert!(
        text.contains("cut here") && text.ends_with("the last line\n"),
        "{text}"
    );
    assert!(!text.contains("b3BlbnNzaC1rZXkt"), "{text}");
}

/// A quoted value with a scheme first goes whole to its closing quote, as
/// a quoted value does: only the scheme stays.
#[test]
fn a_quoted_authorization_value_after_its_scheme_goes_whole() {
    let log = "curl -H 'Authorization: \"Basic c2VjcmV0 second-half\"' https://x\n\
               {\"headers\":{\"Authorization\":\"Bearer tok-one tok-two\"},\"next\":\"kept\"}\n";
    let text = collect_one_log("a.log", log.as_bytes(), &[]);
    let text = String::from_utf8_lossy(&text);
    for secret in ["c2VjcmV0", "second-half", "tok-one", "tok-two"] {
        assert!(!text.contains(secret), "{secret} kept: {text}");
    }
    assert!(text.contains("Basic [REDACTED:authorization]\"'"), "{text}");
    assert!(text.contains("\"next\":\"kept\""), "{text}");
}

/// Passwords given on the command lines CI scripts print: `sshpass -p`, and
/// mysql's `-pPASSWORD` (not its `-P` port, nor a `-p` that prompts).
#[test]
fn sshpass_and_mysql_command_line_passwords_are_redacted() {
    let log = "+ sshpass -p 'hunter2-ssh' ssh root@vm true\n\
               + sshpass -phunter3 scp a b\n\
               + mysql -h db -P 3306 -uroot -phunter4-db app\n\
               + mysqldump -u root -p app\n\
               run: sshpass\t-p hunter5-tab ssh host\n";
    let text = collect_one_log("a.log", log.as_bytes(), &[]);
    let text = String::from_utf8_lossy(&text);
    for secret in ["hunter2-ssh", "hunter3", "hunter4-db", "hunter5-tab"] {
        assert!(!text.contains(secret), "{secret} kept: {text}");
    }
    assert!(
        text.contains("-P 3306 -uroot -p[REDACTED:password] app"),
        "{text}"
    );
    assert!(text.contains("mysqldump -u root -p app"), "{text}");
}

/// A GitHub token right after a percent-escape or other letters (a URL's
/// encoded path, text glued together) is a token all the same.
#[test]
fn a_github_token_glued_to_what_comes_before_is_redacted() {
    let token = fake("ghp_", 36);
    let log = format!("GET /repos%2F{token}/x\nprefix{token} suffix\n");
    let text = collect_one_log("a.log", log.as_bytes(), &[]);
    let text = String::from_utf8_lossy(&text);
    assert!(!text.contains(&token[4..]), "{text}");
    assert_eq!(
        text,
        "GET /repos%2F[REDACTED:github-token]/x\nprefix[REDACTED:github-token] suffix\n"
    );
}

/// Registry credentials as Docker keeps them (`~/.docker/config.json`,
/// `DOCKER_AUTH_CONFIG`): `auth` is base64 of user:password, and an
/// `identitytoken` or `registrytoken` is a token. Logs print them when a
/// script dumps the config or the environment, plain or as escaped JSON.
#[test]
fn docker_registry_credentials_are_redacted() {
    let log = concat!(
        r#"{"auths":{"registry.example.com":{"auth":"Y2k6aHVudGVyMi1yZWc=","identitytoken":"idtok-hunter3"}}}"#,
        "\n",
        r#"DOCKER_AUTH_CONFIG={"auths": {"ghcr.io": { "auth" : "Y2k6aHVudGVyNC1naGNy" }}}"#,
        "\n",
        r#"{"level":"debug","msg":"config {\"auths\":{\"x\":{\"auth\":\"aHVudGVyNS1lc2M=\",\"registrytoken\":\"regtok-hunter6\"}}}"}"#,
        "\n",
        r#"{"oauth":"not-a-credential","auth":"","basic_auth":true}"#,
        "\n",
    );
    let text = collect_one_log("a.log", log.as_bytes(), &[]);
    let text = String::from_utf8_lossy(&text);
    for secret in [
        "Y2k6aHVudGVyMi1yZWc=",
        "idtok-hunter3",
        "Y2k6aHVudGVyNC1naGNy",
        "aHVudGVyNS1lc2M=",
        "regtok-hunter6",
    ] {
        assert!(!text.contains(secret), "{secret} kept: {text}");
    }
    assert!(
        text.contains(r#"{"auth":"[REDACTED:docker-auth]","identitytoken":"[REDACTED:password]"}"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"\"auth\":\"[REDACTED:docker-auth]\",\"registrytoken\":\"[REDACTED:password]\""#
        ),
        "{text}"
    );
    assert!(
        text.ends_with("{\"oauth\":\"not-a-credential\",\"auth\":\"\",\"basic_auth\":true}\n"),
        "{text}"
    );
}

/// camelCase keys, as JSON APIs and JavaScript or Go configs print them
/// (`accessToken`, `dbPassword`, `clientSecret`), hold secrets as their
/// snake_case forms do; a key that only mentions one is left alone.
#[test]
fn camel_case_secret_keys_are_redacted() {
    let log = concat!(
        r#"{"accessToken":"tok-hunter1","refreshToken":"tok-hunter2","idToken":"tok-hunter3"}"#,
        "\n",
        r#"{"dbPassword":"pw-hunter4","clientSecret":"cs-hunter5","myApiKey":"key-hunter6"}"#,
        "\n",
        "config: authToken: tok-hunter7 sessionSecret=cs-hunter8 adminPasswd='pw hunter9'\n",
        r#"{\"bearerToken\":\"tok-hunter10\"}"#,
        "\n",
        "Tokens: 5 tokenizer: bpe; the refreshToken expired\n",
    );
    let text = collect_one_log("a.log", log.as_bytes(), &[]);
    let text = String::from_utf8_lossy(&text);
    assert!(!text.contains("hunter"), "{text}");
    assert!(
        text.contains(
            r#"{"accessToken":"[REDACTED:password]","refreshToken":"[REDACTED:password]""#
        ),
        "{text}"
    );
    assert!(
        text.contains("config: authToken: [REDACTED:password] sessionSecret=[REDACTED:password] adminPasswd='[REDACTED:password]'"),
        "{text}"
    );
    assert!(
        text.ends_with("Tokens: 5 tokenizer: bpe; the refreshToken expired\n"),
        "{text}"
    );
}

/// An object store's secret key, as MinIO, S3 clients and their configs
/// name it; a key that only refers to one (Kubernetes' `secretKeyRef`) is
/// left alone.
#[test]
fn object_store_secret_keys_are_redacted() {
    let log = concat!(
        "secretKey: minio-hunter1\n",
        r#"{"accessKey":"minio","secretKey":"minio-hunter2"}"#,
        "\n",
        "minioSecretKey=minio-hunter3 s3SecretKey: minio-hunter4\n",
        "mc admin user add --secret-key minio-hunter5 --secret_key=minio-hunter6\n",
        "secret_key = minio-hunter7\n",
        r#"{"secret_key": "minio-hunter8", "secret-access-key": "minio-hunter9"}"#,
        "\n",
        "  SecretKey = \"minio-hunter10\"\n",
        "{AccessKey:minio SecretKey:minio-hunter11} secretkey: minio-hunter12\n",
        "REGISTRY_STORAGE_S3_SECRETKEY=minio-hunter13 secretAccessKey: minio-hunter14\n",
        "rclone copy . m:b --s3-secret-access-key minio-hunter15 --minio-secret-key minio-hunter16\n",
        "spark-submit --conf spark.hadoop.fs.s3a.secret.key=minio-hunter17 app.py\n",
        "  Secret Key: minio-hunter18\n",
        "valueFrom: {secretKeyRef: {name: minio, key: root-password}}\n",
        "--secret-key-file /run/secrets/sk secretKeyName: minio secret_key_id=AK1\n",
    );
    let text = collect_one_log("a.log", log.as_bytes(), &[]);
    let text = String::from_utf8_lossy(&text);
    assert!(!text.contains("hunter"), "{text}");
    assert!(
        text.contains(r#"{"accessKey":"minio","secretKey":"[REDACTED:password]"}"#),
        "{text}"
    );
    assert!(
        text.contains("--secret-key [REDACTED:password] --secret_key=[REDACTED:password]"),
        "{text}"
    );
    assert!(
        text.ends_with(concat!(
            "valueFrom: {secretKeyRef: {name: minio, key: root-password}}\n",
            "--secret-key-file /run/secrets/sk secretKeyName: minio secret_key_id=AK1\n",
        )),
        "{text}"
    );
}

/// Request headers as Go prints an `http.Header` (`map[Authorization:[…]]`)
/// or JSON holds it (`"X-Api-Key": ["…"]`), and an `X-Api-Key:` header as
/// `curl -v` shows it: the value in brackets goes, not just the bracket.
#[test]
fn header_values_in_go_maps_json_arrays_and_api_key_headers_are_redacted() {
    let log = concat!(
        "map[Accept:[*/*] Authorization:[Basic aHVudGVyMTpwdw==] User-Agent:[Go-http-client/1.1]]\n",
        r#"{"Authorization": ["Basic aHVudGVyMjpwdw=="], "X-Api-Key": ["hunter3-key"]}"#,
        "\n",
        "> X-Api-Key: hunter4-key\n",
        "map[X-Api-Key:[hunter5-key]]\n",
    );
    let text = collect_one_log("a.log", log.as_bytes(), &[]);
    let text = String::from_utf8_lossy(&text);
    for secret in [
        "aHVudGVyMTpwdw",
        "aHVudGVyMjpwdw",
        "hunter3",
        "hunter4",
        "hunter5",
    ] {
        assert!(!text.contains(secret), "{secret} kept: {text}");
    }
    assert!(
        text.contains(
            "Authorization:[Basic [REDACTED:authorization]] User-Agent:[Go-http-client/1.1]]"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"["Basic [REDACTED:authorization]"], "X-Api-Key": ["[REDACTED:password]"]}"#
        ),
        "{text}"
    );
    assert!(
        text.contains("> X-Api-Key: [REDACTED:password]\n"),
        "{text}"
    );
}

/// A private key printed through something that prefixes each line (docker
/// compose's `web-1  | `, syslog's timestamp and tag, indentation, a JSON
/// record per line, colour): the key material of every line goes, and each
/// line's prefix and what follows the block stay.
#[test]
fn private_keys_behind_line_prefixes_and_colours_are_redacted_whole() {
    let body = [fake("MIIEvQ", 58), fake("AQAB", 60), fake("Zz", 14)];
    let lines = |prefix: &str| -> String {
        let mut text = format!("{prefix}-----BEGIN PRIVATE KEY-----\n");
        for line in &body {
            text.push_str(&format!("{prefix}{line}\n"));
        }
        text + &format!("{prefix}-----END PRIVATE KEY-----\n{prefix}started fine\n")
    };
    let mut log = lines("web-1  | ");
    log += &lines("    ");
    log += &lines("[pod/api-0] ");
    // A timestamp that moves on within the block.
    log += "Jun 11 04:50:09 host cloud-init[123]: -----BEGIN RSA PRIVATE KEY-----\n";
    log += &format!("Jun 11 04:50:10 host cloud-init[123]: {}\n", body[0]);
    log += "Jun 11 04:50:10 host cloud-init[123]: -----END RSA PRIVATE KEY-----\n";
    log += "Jun 11 04:50:11 host cloud-init[123]: Error: next\n";
    log += r#"{"level":"debug","msg":"-----BEGIN EC PRIVATE KEY-----"}"#;
    log += &format!(
        "\n{{\"level\":\"debug\",\"msg\":\"{}\",\"time\":\"2\"}}\n",
        body[1]
    );
    log += r#"{"level":"debug","msg":"-----END EC PRIVATE KEY-----","time":"3"}"#;
    log += &format!(
        "\n\x1b[32m-----BEGIN PRIVATE KEY-----\x1b[0m\n{}\n-----END PRIVATE KEY-----\n",
        body[2]
    );
    log += "after\n";
    let text = collect_one_log("compose.log", log.as_bytes(), &[]);
    let text = String::from_utf8(text).unwrap();
    for line in &body {
        assert!(!text.contains(line.as_str()), "{line} kept:\n{text}");
    }
    assert_eq!(text.lines().count(), log.lines().count(), "{text}");
    for prefix in ["web-1  | ", "    ", "[pod/api-0] "] {
        let redacted = format!("{prefix}[REDACTED:private-key]\n").repeat(5);
        assert!(
            text.contains(&format!("{redacted}{prefix}started fine\n")),
            "{prefix:?}:\n{text}"
        );
    }
    assert!(
        text.contains("cloud-init[123]: [REDACTED:private-key]\nJun 11 04:50:11 host cloud-init[123]: Error: next\n"),
        "{text}"
    );
    assert!(
        text.contains(r#"{"level":"debug","msg":"[REDACTED:private-key]","time":"2"}"#),
        "{text}"
    );
    assert!(text.ends_with("[REDACTED:private-key]\nafter\n"), "{text}");
}

/// The edges of a private key block behind prefixes: a timestamp whose
/// width changes does not hide the end marker, nor does it take the lines
/// after the block; a block that never ends does not take the one-word
/// lines after it; every armour header goes, whatever its name.
#[test]
fn a_private_key_block_ends_where_it_ends() {
    let body = fake("MIIEow", 58);
    let pgp = fake("lQOYBF", 62);
    let log = format!(
        "2024-11-27T10:00:00.1Z -----BEGIN RSA PRIVATE KEY-----\n\
         2024-11-27T10:00:00.1Z {body}\n\
         2024-11-27T10:00:00.12Z -----END RSA PRIVATE KEY-----\n\
         2024-11-27T10:00:01.5Z Listening on :8080\n\
         2024-11-27T10:00:03Z ERROR: database connection refused\n\
         Nov 27 15:35:01 host app[12]: -----BEGIN RSA PRIVATE KEY-----\n\
         Nov 27 15:35:01 host app[12]: {body}\n\
         Nov 27 15:35:02 host app[12]: truncated\n\
         Nov 27 15:35:03 host app[12]: 200\n\
         -----BEGIN PGP PRIVATE KEY BLOCK-----\n\
         Version: GnuPG v2\n\
         MessageID: hunter1val\n\
         \n\
         {pgp}\n\
         hunter2V4l\n\
         =Ab1c\n\
         -----END PGP PRIVATE KEY BLOCK-----\n\
         imported\n\
         key: -----BEGIN PRIVATE KEY-----\n\
         {body}\n\
         hunterThreeVal\n\
         -----END PRIVATE KEY-----\n\
         2026-06-11T04:50:00.1234567Z SSH_KEY: -----BEGIN OPENSSH PRIVATE KEY-----\n\
         2026-06-11T04:50:00.1234567Z {body}\n\
         2026-06-11T04:50:00.1234567Z -----END OPENSSH PRIVATE KEY-----\n\
         [pod/x] -----BEGIN RSA PRIVATE KEY-----\n\
         [pod/x] Error: unable to parse key\n\
         [pod/x] DEBUG=1\n\
         web-1  | -----BEGIN PRIVATE KEY-----\n\
         web-1  | {body}\n\
         db-1   | LOG:  database system is ready\n\
         web-1  | {pgp}\n\
         web-1  | -----END PRIVATE KEY-----\n\
         {{\"ts\": \"04:50:00.9Z\", \"msg\": \"-----BEGIN PRIVATE KEY-----\"}}\n\
         {{\"ts\": \"04:50:00.10Z\", \"msg\": \"{body}\"}}\n\
         {{\"ts\": \"04:50:00.11Z\", \"msg\": \"-----END PRIVATE KEY-----\"}}\n"
    );
    let text = collect_one_log("keys.log", log.as_bytes(), &[]);
    let text = String::from_utf8(text).unwrap();
    for secret in [
        body.as_str(),
        pgp.as_str(),
        "hunter1val",
        "hunter2V4l",
        "=Ab1c",
        // A key's short last line, told by the end marker after it.
        "hunterThreeVal",
    ] {
        assert!(!text.contains(secret), "{secret} kept:\n{text}");
    }
    assert_eq!(text.lines().count(), log.lines().count(), "{text}");
    for kept in [
        "2024-11-27T10:00:00.12Z [REDACTED:private-key]\n\
         2024-11-27T10:00:01.5Z Listening on :8080\n\
         2024-11-27T10:00:03Z ERROR: database connection refused\n",
        "Nov 27 15:35:02 host app[12]: truncated\nNov 27 15:35:03 host app[12]: 200\n",
        "[REDACTED:private-key]\nimported\nkey: [REDACTED:private-key]\n",
        "Z SSH_KEY: [REDACTED:private-key]\n2026-06-11T04:50:00.1234567Z [REDACTED:private-key]\n",
        // A key only mentioned: the lines after it are not a key's.
        "[pod/x] [REDACTED:private-key]\n[pod/x] Error: unable to parse key\n[pod/x] DEBUG=1\n",
        // Another source's line within a key's stays, and the key goes on.
        "db-1   | LOG:  database system is ready\nweb-1  | [REDACTED:private-key]\n",
        r#"{"ts": "04:50:00.10Z", "msg": "[REDACTED:private-key]"}"#,
    ] {
        assert!(text.contains(kept), "{kept:?} in\n{text}");
    }
}

/// Keys among other sources' lines: a certificate's end marker from another
/// service does not end a key, nor does a line of another service between
/// a key's short last line and its end; a header of a key's own (notary's
/// `role:`) is part of it; JSON records whose timestamp comes before the
/// key's field; and a mention of a key, then ordinary lines.
#[test]
fn private_keys_among_other_sources_lines_are_redacted_whole() {
    let body = [fake("b3Blbn", 64), fake("AAAAC3", 64), fake("AfJ8Y8", 16)];
    let log = format!(
        "app-1    | -----BEGIN OPENSSH PRIVATE KEY-----\n\
         app-1    | {}\n\
         caddy-1  | -----END CERTIFICATE-----\n\
         app-1    | {}\n\
         app-1    | {}\n\
         db-1     | LOG:  checkpoint starting: time\n\
         app-1    | -----END OPENSSH PRIVATE KEY-----\n\
         app-1    | listening\n\
         -----BEGIN ENCRYPTED PRIVATE KEY-----\n\
         role: root\n\
         \n\
         {}\n\
         -----END ENCRYPTED PRIVATE KEY-----\n\
         {{\"time\":\"04:50:00.1Z\",\"level\":\"INFO\",\"msg\":\"-----BEGIN EC PRIVATE KEY-----\"}}\n\
         {{\"time\":\"04:50:00.12Z\",\"level\":\"INFO\",\"msg\":\"{}\"}}\n\
         {{\"time\":\"04:50:00.123Z\",\"level\":\"INFO\",\"msg\":\"-----END EC PRIVATE KEY-----\"}}\n\
         Error: key must start with -----BEGIN OPENSSH PRIVATE KEY-----\n\
         + git rev-parse HEAD\n\
         9fceb02d0ae598e95dc970b74767f19372d61af8\n",
        body[0], body[1], body[2], body[0], body[1]
    );
    let text = collect_one_log("compose.log", log.as_bytes(), &[]);
    let text = String::from_utf8(text).unwrap();
    for line in &body {
        assert!(!text.contains(line.as_str()), "{line} kept:\n{text}");
    }
    assert!(!text.contains("role: root"), "{text}");
    assert_eq!(text.lines().count(), log.lines().count(), "{text}");
    for kept in [
        "caddy-1  | -----END CERTIFICATE-----\n",
        "db-1     | LOG:  checkpoint starting: time\napp-1    | [REDACTED:private-key]\napp-1    | listening\n",
        "+ git rev-parse HEAD\n9fceb02d0ae598e95dc970b74767f19372d61af8\n",
    ] {
        assert!(text.contains(kept), "{kept:?} in\n{text}");
    }
}

/// A PGP key with a free armour header (`Note: …`), a key wrapped narrower
/// than 64 columns, and after a mere mention of a key, the hashes, paths,
/// URLs and fingerprints of the lines that follow.
#[test]
fn free_headers_narrow_keys_and_lines_after_a_mention() {
    let wide = fake("lFgEaw", 64);
    let narrow: Vec<String> = (0..4).map(|i| fake(&format!("Mi{i}"), 30)).collect();
    let log = format!(
        "+ gpg --armor --export-secret-keys\n\
         -----BEGIN PGP PRIVATE KEY BLOCK-----\n\
         Note: exported for CI runner\n\
         Comment: test comment\n\
         \n\
         {wide}\n\
         =fxje\n\
         -----END PGP PRIVATE KEY BLOCK-----\n\
         -----BEGIN PRIVATE KEY-----\n\
         {}\n{}\n{}\n{}\n\
         -----END PRIVATE KEY-----\n\
         checking for -----BEGIN RSA PRIVATE KEY-----\n\
         HEAD is now at 3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39\n\
         sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
         wrote /home/runner/work/platform/platform/build/secrets\n\
         done\n\
         tls: failed to find -----BEGIN PRIVATE KEY-----\n\
         Retrying with https://vault.example.com/v1/pki/issue\n\
         proxy listening on localhost:8443\n\
         ssh2: RSA SHA256:uQ3Wn6m0cYp0xkKpd\n",
        narrow[0], narrow[1], narrow[2], narrow[3]
    );
    let text = collect_one_log("keys.log", log.as_bytes(), &[]);
    let text = String::from_utf8(text).unwrap();
    for secret in std::iter::once(&wide).chain(&narrow) {
        assert!(!text.contains(secret.as_str()), "{secret} kept:\n{text}");
    }
    assert!(!text.contains("Note: exported"), "{text}");
    for kept in [
        "\nHEAD is now at 3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39\n\
         sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
         wrote /home/runner/work/platform/platform/build/secrets\ndone\n",
        "\nRetrying with https://vault.example.com/v1/pki/issue\n\
         proxy listening on localhost:8443\nssh2: RSA SHA256:uQ3Wn6m0cYp0xkKpd\n",
    ] {
        assert!(text.contains(kept), "{kept:?} in\n{text}");
    }
}

/// A command's usage text names its secret flags with the type of their
/// value, and a flag that names a Secret holds no secret.
#[test]
fn usage_texts_and_secret_names_are_kept() {
    let log = "      --api-key string         API key used to authenticate\n\
               \x20     --client-secret string   OAuth client secret\n\
               + kn service create web --image x --pull-secret regcred\n";
    let text = collect_one_log("usage.log", log.as_bytes(), &[]);
    assert_eq!(String::from_utf8_lossy(&text), log);
}

/// Colour codes between a key and its value (`\x1b[36mpassword\x1b[0m=x`,
/// as logrus colours its fields on a terminal), or around the value, do not
/// hide it; the codes themselves stay.
#[test]
fn secrets_among_colour_codes_are_redacted() {
    let log = concat!(
        "\x1b[36mINFO\x1b[0m[0000] connect \x1b[36mpassword\x1b[0m=hunter1val \x1b[36mattempt\x1b[0m=1\n",
        "Authorization: \x1b[1mBearer\x1b[0m hunter2val\n",
        "password=\x1b[33mhunter3val\x1b[0m next\n",
        "{\"password\":\"\x1b[31mhunter4val\x1b[0m\"}\n",
        // A colour code is a word's edge.
        "INFO\x1b[0mpassword=hunter5val\n",
    );
    let text = collect_numbered_secrets("colour.log", log, 5);
    assert!(
        text.contains("\x1b[36mpassword\x1b[0m=[REDACTED:password] \x1b[36mattempt\x1b[0m=1\n"),
        "{text:?}"
    );
    assert!(
        text.contains("password=\x1b[33m[REDACTED:password]\x1b[0m next\n"),
        "{text:?}"
    );
}

/// Secrets as shell traces (`set -x`) and CLIs print them: a word quoted
/// because of a blank or `;` goes to its closing quote, the AWS CLI's and
/// MinIO's key forms, a token fed through `<<<`, `.netrc`, `--api-key` and
/// `--client-secret`, and flags in a JSON argument list; a value does not
/// take a closing bracket it did not open.
#[test]
fn secrets_in_shell_traces_and_cli_forms_are_redacted() {
    let aws = fake("", 40).replace('_', "x");
    let log = format!(
        "+ curl -u 'admin:Pa$$w0rd;hunter1val' https://x\n\
         + mysql -u root '-pPa$$w0rd;hunter2val'\n\
         + echo 'password=correct hunter3val'\n\
         + aws configure set aws_secret_access_key {aws}\n\
         + mc alias set s3 https://s3 AKIA{} {aws}\n\
         + gh auth login --with-token <<< hunter4val\n\
         (password=hunter5val) next\n\
         hdr=map[X-Api-Key:[hunter6val] Accept:[*/*]]\n\
         machine h login u password hunter7val\n\
         --api-key hunter8val --client-secret hunter9val\n\
         [\"--password\",\"hunter10val\",\"--token\",\"hunter11val\"]\n\
         + openssl pkcs12 -export -in c.pem -passout pass:hunter12val -out c.p12\n\
         WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n\
         --token is deprecated\n\
         machine web-1 failed: password authentication failed for user bob\n",
        "QWERTYUIOPASDFGH"
    );
    let text = collect_numbered_secrets("trace.log", &log, 12);
    assert!(!text.contains(&aws), "{text}");
    for kept in [
        "-passout pass:[REDACTED:password] -out c.p12\n",
        // A sentence about a flag keeps its words.
        "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n",
        "--token is deprecated\n",
        "machine web-1 failed: password authentication failed for user bob\n",
        "+ curl -u 'admin:[REDACTED:password]' https://x\n",
        "+ echo 'password=[REDACTED:password]'\n",
        "set aws_secret_access_key [REDACTED:aws-secret-access-key]\n",
        "--with-token <<< [REDACTED:password]\n",
        "(password=[REDACTED:password]) next\n",
        "X-Api-Key:[[REDACTED:password]] Accept:[*/*]]\n",
    ] {
        assert!(text.contains(kept), "{kept:?} in {text}");
    }
}

/// An API key's name in any case: HTTP header names are case-insensitive
/// (`X-API-KEY`, `X-API-Key`, `x-api-key`), and config keys come in many
/// spellings (`API_Key`, `APIKEY`).
#[test]
fn api_key_names_in_any_case_are_redacted() {
    let log = concat!(
        "> X-API-KEY: hunter1val\n",
        "> X-API-Key: hunter2val\n",
        "> x-api-key: hunter3val\n",
        "API_Key=hunter4val\n",
        "settings: API_Key: hunter5val\n",
        "APIKEY=hunter6val\n",
        r#"{"Api-Key":"hunter7val"}"#,
        "\n",
        "API_KEY: hunter8val\n",
        "OPENAI_API_KEY: hunter9val\n",
    );
    let text = collect_numbered_secrets("a.log", log, 9);
    assert!(
        text.contains("> X-API-KEY: [REDACTED:password]\n"),
        "{text}"
    );
    assert!(text.contains("API_Key=[REDACTED:password]\n"), "{text}");
}

/// Cookies, as `curl -v` and Go's request dumps print them: the values of
/// a `Cookie:` header (its first name stays), the value a `Set-Cookie:` sets
/// (its attributes stay), and the value curl's cookie engine reports.
#[test]
fn cookie_headers_are_redacted() {
    let log = concat!(
        "> Cookie: __Host-session=hunter1-sess; theme=hunter2-theme\n",
        "< Set-Cookie: user_session=hunter3-sess; path=/; secure; HttpOnly; SameSite=Lax\n",
        "map[Cookie:[session=hunter4-sess]]\n",
        r#"{"headers":{"cookie":"sid=hunter5-sess","accept":"*/*"}}"#,
        "\n",
        "* Added cookie sid=\"hunter6-sess\" for domain example.com, path /, expire 0\n",
        "the cookie jar is empty; cookies: 0\n",
    );
    let text = collect_one_log("a.log", log.as_bytes(), &[]);
    let text = String::from_utf8_lossy(&text);
    assert!(!text.contains("hunter"), "{text}");
    assert!(
        text.contains("> Cookie: __Host-session=[REDACTED:cookie]\n"),
        "{text}"
    );
    assert!(
        text.contains("< Set-Cookie: user_session=[REDACTED:set-cookie]; path=/; secure; HttpOnly; SameSite=Lax\n"),
        "{text}"
    );
    assert!(text.contains(r#""accept":"*/*""#), "{text}");
    assert!(
        text.contains("* Added cookie sid=\"[REDACTED:cookie]\" for domain example.com"),
        "{text}"
    );
    assert!(
        text.ends_with("the cookie jar is empty; cookies: 0\n"),
        "{text}"
    );
}

/// Tokens whose prefix tells what they are, wherever they stand: GitLab
/// (`glpat-`), Slack (`xoxb-`, `xoxp-`…), Google API keys (`AIza`) and npm
/// (`npm_`), and the secret path of a Slack webhook.
#[test]
fn gitlab_slack_google_and_npm_tokens_are_redacted() {
    let glpat = fake("glpat-", 20);
    let slack = format!("xox{}-123456789012-{}", "b", fake("", 24));
    let google = fake("AIza", 35);
    let npm = fake("npm_", 36);
    let webhook = fake("", 24);
    let log = format!(
        "git clone https://gitlab.com/o/r.git with {glpat}\n\
         curl -d token={slack} https://slack.com/api/chat.postMessage\n\
         url https://maps.googleapis.com/maps/api/geocode/json?key={google}&address=x\n\
         //registry.npmjs.org/ {npm}\n\
         POST https://hooks.slack.com/services/T0123ABCD/B0123ABCD/{webhook}\n\
         npm notice package: logkeep@1.0.0\n"
    );
    let text = collect_one_log("a.log", log.as_bytes(), &[]);
    let text = String::from_utf8_lossy(&text);
    for secret in [&glpat, &slack, &google, &npm, &webhook] {
        assert!(!text.contains(&secret[6..]), "{secret} kept: {text}");
    }
    assert!(text.contains("with [REDACTED:gitlab-token]\n"), "{text}");
    assert!(
        text.contains("?key=[REDACTED:google-api-key]&address=x"),
        "{text}"
    );
    assert!(
        text.contains("//registry.npmjs.org/ [REDACTED:npm-token]\n"),
        "{text}"
    );
    assert!(
        text.contains("https://hooks.slack.com/services/[REDACTED:slack-token]\n"),
        "{text}"
    );
    assert!(
        text.ends_with("npm notice package: logkeep@1.0.0\n"),
        "{text}"
    );
}

/// Azure storage and Service Bus keys in connection strings, and the
/// signature of a signed URL (Azure SAS `sig=`, S3 and GCS presigned URLs):
/// each grants access on its own.
#[test]
fn azure_keys_and_url_signatures_are_redacted() {
    let log = "DefaultEndpointsProtocol=https;AccountName=ci;AccountKey=hunter1+key/abc==;EndpointSuffix=core.windows.net\n\
               Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=hunter2key=\n\
               GET https://acct.blob.core.windows.net/c/b?sv=2020-08-04&se=2026-01-01&sr=b&sp=r&sig=hunter3sig%2Bx%3D HTTP/1.1\n\
               PUT https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=hunter4sig&X-Amz-SignedHeaders=host\n\
               GET https://storage.googleapis.com/b/o?X-Goog-Signature=hunter5sig&X-Goog-Date=1\n";
    let text = collect_one_log("a.log", log.as_bytes(), &[]);
    let text = String::from_utf8_lossy(&text);
    assert!(!text.contains("hunter"), "{text}");
    assert!(
        text.contains(";AccountKey=[REDACTED:azure-key];EndpointSuffix=core.windows.net\n"),
        "{text}"
    );
    assert!(
        text.contains("&sp=r&sig=[REDACTED:url-signature] HTTP/1.1"),
        "{text}"
    );
    assert!(
        text.contains("&X-Amz-Signature=[REDACTED:url-signature]&X-Amz-SignedHeaders=host"),
        "{text}"
    );
}

/// Credentials on the command lines scripts trace with `set -x`: a registry
/// or cloud `login … -p`, `curl -u user:password` and `--token VALUE`.
#[test]
fn command_line_credentials_are_redacted() {
    let log = "+ docker login -u ci -p hunter1-pw ghcr.io\n\
               + helm registry login ghcr.io --username ci -p=hunter2-pw\n\
               + az login --service-principal -u app -p hunter3-pw --tenant t\n\
               + curl -fsSL -u ci:hunter4-pw https://example.com/x\n\
               + curl -u 'ci:hunter5-pw' https://example.com/x\n\
               + curl --fail --user ci:hunter6-pw --user-agent ci/1 https://example.com/x\n\
               + curl --user=ci:hunter8-pw https://example.com/x\n\
               + kubectl --token hunter7-token get pods\n\
               + docker run -u 1000:1000 -p 8080:80 img\n\
               + mkdir -p /tmp/logs\n";
    let text = collect_one_log("a.log", log.as_bytes(), &[]);
    let text = String::from_utf8_lossy(&text);
    assert!(!text.contains("hunter"), "{text}");
    assert!(
        text.contains("+ docker login -u ci -p [REDACTED:password] ghcr.io\n")
            && text.contains("-u ci:[REDACTED:password] https://example.com/x\n")
            && text.contains("--token [REDACTED:password] get pods\n")
            && text.contains("--user ci:[REDACTED:password] --user-agent ci/1 https"),
        "{text}"
    );
    assert!(
        text.contains("+ docker run -u 1000:1000 -p 8080:80 img\n+ mkdir -p /tmp/logs\n"),
        "{text}"
    );
}

/// Config files dumped into a log: INI and TOML `key = value` (AWS
/// credentials, `.pypirc`, Cargo's credentials), `PGPASSWORD`, and YAML
/// keys ending in `_token` or `_secret`.
#[test]
fn config_file_and_environment_forms_are_redacted() {
    let log = "[default]\n\
               aws_session_token = hunter1-session\n\
               password = hunter2-pw\n\
               token = \"hunter3-cargo\"\n\
               + PGPASSWORD=hunter5-pg psql -h db\n\
               env:\n  GITHUB_TOKEN: hunter7-gh\n  client_secret: hunter8-cs\n\
               if password == \"\" {\n\
               token_type: bearer\n";
    let text = collect_one_log("a.log", log.as_bytes(), &[]);
    let text = String::from_utf8_lossy(&text);
    assert!(!text.contains("hunter"), "{text}");
    assert!(
        text.contains("aws_session_token = [REDACTED:password]\n")
            && text.contains("token = \"[REDACTED:password]\"\n")
            && text.contains("  GITHUB_TOKEN: [REDACTED:password]\n"),
        "{text}"
    );
    assert!(
        text.ends_with("if password == \"\" {\ntoken_type: bearer\n"),
        "{text}"
    );
}

/// Secrets CI jobs print that had no rule: a Vault token as `vault login`
/// shows it, MySQL's password variable, GPG passphrases in each form, Rails'
/// `SECRET_KEY_BASE` and a Java property's password. Words that only look
/// alike stay.
#[test]
fn vault_mysql_passphrase_rails_and_java_property_secrets_are_redacted() {
    let vault = format!("hvs.{}", "CAESIhunter1x".repeat(8));
    let batch = format!("hvb.{}", "AAAAAQhunter0".repeat(8));
    let log = format!(
        "token                {vault}\n\
         batch token: {batch}\n\
         + export MYSQL_PWD=hunter2-my\n\
         GPG_PASSPHRASE=hunter3-gpg\n\
         + gpg --batch --passphrase hunter4-gpg --pinentry-mode loopback -d x.gpg\n\
         passphrase: hunter5-yaml\n\
         {{\"keyPassphrase\":\"hunter6-json\"}}\n\
         SECRET_KEY_BASE=hunter7-rails\n\
         + mvn -B deploy -Dpassword=hunter8-mvn -Dusername=ci\n\
         PWD=/home/runner/work OLDPWD=/home/runner\n\
         gpg --passphrase-fd 0 --batch; classpath: /opt/lib; hvs.short\n"
    );
    let text = collect_one_log("a.log", log.as_bytes(), &[]);
    let text = String::from_utf8_lossy(&text);
    assert!(!text.contains("hunter"), "{text}");
    assert!(
        text.starts_with("token                [REDACTED:vault-token]\nbatch token: [REDACTED:")
            && text.contains("+ export MYSQL_PWD=[REDACTED:env-secret]\n")
            && text.contains("--passphrase [REDACTED:password] --pinentry-mode")
            && text.contains("-Dpassword=[REDACTED:password] -Dusername=ci\n"),
        "{text}"
    );
    assert!(
        text.ends_with(
            "PWD=/home/runner/work OLDPWD=/home/runner\n\
             gpg --passphrase-fd 0 --batch; classpath: /opt/lib; hvs.short\n"
        ),
        "{text}"
    );
}

/// More of the same families: uppercase passphrases, a token given as
/// curl's user with an empty password, and proxy passwords.
#[test]
fn uppercase_passphrases_curl_token_users_and_proxy_passwords_are_redacted() {
    let log = "PASSPHRASE=hunter1-bare\n\
               export PASSPHRASE=\"hunter2-export\"\n\
               {\"PASSPHRASE\": \"hunter3-json\"}\n\
               + curl --user hunter4circletoken: https://circleci.com/api/v1.1/me\n\
               + curl -u \"hunter5stripe:\" https://api.stripe.com/v1/charges\n\
               + curl -U proxyuser:hunter6-proxy https://example.com\n\
               + curl --proxy-user proxyuser:hunter7-proxy https://example.com\n";
    let text = collect_one_log("a.log", log.as_bytes(), &[]);
    let text = String::from_utf8_lossy(&text);
    assert!(!text.contains("hunter"), "{text}");
    assert!(
        text.contains("+ curl --user [REDACTED:curl-user]: https://circleci.com")
            && text.contains("--proxy-user proxyuser:[REDACTED:password] https"),
        "{text}"
    );
}

/// Lines that only look like the new forms keep every byte: a folder kept
/// in a `*_PWD` variable, CMake options, the next command after a curl,
/// and a Java package named `hvs`.
#[test]
fn folders_cmake_options_later_commands_and_java_packages_are_left_alone() {
    let log = "+ HOST_PWD=/home/runner/work/repo/repo ORIG_PWD=/builds/g/p\n\
               + cmake -DSECRET=ON -DTOKEN=ignored -Dtoken=none ..\n\
               + curl -fsSL https://get.docker.com | sh && docker run --rm --user 1000:1000 img\n\
               + curl -s https://x; podman run --user 0:0 img; docker exec -u root:root c true\n\
               \tat com.acme.hvs.HighVoltageSwitchgearController.start(Main.java:12)\n";
    let text = collect_one_log("a.log", log.as_bytes(), &[]);
    assert_eq!(String::from_utf8_lossy(&text), log);
}

/// Keys written in mixed case, as connection strings and Go's struct dumps
/// do (`PassWord=`, `APIKey:`), are found: the quick search for where to
/// look closer keys on a few fixed spellings of each word.
#[test]
fn mixed_case_password_and_api_keys_are_redacted() {
    let log = "Server=db;User Id=sa;PassWord=hunter1-conn;Encrypt=true\n\
               passWord: hunter2-yaml\n\
               {\"PassWord\": \"hunter3-json\"}\n\
               + deploy --APIKey=hunter4-api\n\
               config: {Host:db APIKey:hunter5-go Port:5432}\n";
    let text = collect_one_log("a.log", log.as_bytes(), &[]);
    let text = String::from_utf8_lossy(&text);
    assert!(!text.contains("hunter"), "{text}");
    assert!(
        text.contains("User Id=sa;PassWord=[REDACTED:password];Encrypt=true\n")
            && text.contains("{Host:db APIKey:[REDACTED:password] Port:5432}"),
        "{text}"
    );
}

/// A `token:` holds its whole value, `:` and `~` too: Rancher's
/// kubeconfig tokens (`kubeconfig-user-x.c-y:secret`), k3s's server tokens
/// (`K10…::server:secret`), Azure's client secrets; the Azure CLI's
/// `--account-key`; a `*_PASS:` variable as `kubectl describe` prints a
/// container's environment. What tools write where no value is shown stays: a word
/// after `token:` in an error, MySQL's `(using password: YES)`, `kubectl
/// describe`'s `<set to the key …>` and a secret's size.
#[test]
fn whole_tokens_are_redacted_and_placeholders_are_kept() {
    let log = concat!(
        "    token: \"kubeconfig-user-ab11z.c-a123b:hunter1x8lm5vw4k2q9rtz7pbn6dhc3fj\"\n",
        "token: K10a6b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f::server:hunter2c0ffee0123456789\n",
        "    token: Xy8Q~hunter3DEFghiJKLmno.pqrSTUvwx-yz012345\n",
        "+ az storage blob upload --account-name rdartifacts --account-key 'Eby8vdhunter4GMGw==' -f a\n",
        "az storage container list --account-key=Eby8vdhunter5GMGw== -o table\n",
        "failed to fetch oauth token: unexpected status: 429 Too Many Requests\n",
        "ERROR 1045 (28000): Access denied for user 'root'@'localhost' (using password: YES)\n",
        "      DB_PASSWORD:  <set to the key 'password' in secret 'db'>  Optional: false\n",
        "password:  8 bytes\n",
        "      REGISTRY_PASS:      hunter6pass\n",
    );
    let text = collect_one_log("a.log", log.as_bytes(), &[]);
    let text = String::from_utf8_lossy(&text);
    assert!(!text.contains("hunter"), "{text}");
    assert!(
        text.contains("    token: \"[REDACTED:kubeconfig]\"\n"),
        "{text}"
    );
    assert!(
        text.contains("--account-key '[REDACTED:password]' -f a\n"),
        "{text}"
    );
    assert!(
        text.ends_with(concat!(
            "failed to fetch oauth token: unexpected status: 429 Too Many Requests\n",
            "ERROR 1045 (28000): Access denied for user 'root'@'localhost' (using password: YES)\n",
            "      DB_PASSWORD:  <set to the key 'password' in secret 'db'>  Optional: false\n",
            "password:  8 bytes\n",
            "      REGISTRY_PASS:      [REDACTED:password]\n",
        )),
        "{text}"
    );
}

/// klog names the secret or token a line is about as `namespace/name`
/// (k3s: `"Syncing" secret="kube-system/k3s-serving"`): a name, kept, so
/// the reader sees which one. A value with capitals or other signs, or
/// any password, is still a secret.
#[test]
fn kubernetes_object_references_are_kept_and_secrets_like_them_are_not() {
    let log = concat!(
        "I0611 04:50:02.017245 1234 tls.go:123] \"Syncing\" secret=\"kube-system/k3s-serving\"\n",
        "I0611 04:50:03.000000 1234 tokens.go:50] \"Created\" token=\"default/default-token-abcde\"\n",
        "time=\"2026-06-11T04:50:04Z\" level=info msg=\"Updating\" secret=kube-system/k3s-serving\n",
        "password=hunter1/abc\n",
        "secret=\"Hunter2/xyzQ+w==\"\n",
        "token=hunter3/4b:c\n",
    );
    let text = collect_one_log("a.log", log.as_bytes(), &[]);
    let text = String::from_utf8_lossy(&text);
    assert!(
        !text.contains("hunter") && !text.contains("Hunter"),
        "{text}"
    );
    for kept in [
        "secret=\"kube-system/k3s-serving\"\n",
        "token=\"default/default-token-abcde\"\n",
        "secret=kube-system/k3s-serving\n",
    ] {
        assert!(text.contains(kept), "{kept}: {text}");
    }
}

/// A command's arguments as Go's `%q` prints them (`["login" "--password"
/// "x"]`, a common logging idiom) give the flag's value as a JSON list does;
/// a sentence that quotes the flag keeps its words.
#[test]
fn flags_in_go_quoted_argument_lists_are_redacted() {
    let log = concat!(
        "Running: [\"nerdctl\" \"login\" \"-u\" \"bot\" \"--password\" \"hunter1hunter1\" \"ghcr.io\"]\n",
        "cmd=[\"k3s\" \"server\" \"--token\" \"hunter2secret\" \"--disable\" \"traefik\"]\n",
        "\"--password\" is deprecated\n",
    );
    let text = collect_one_log("a.log", log.as_bytes(), &[]);
    let text = String::from_utf8_lossy(&text);
    assert!(!text.contains("hunter"), "{text}");
    assert!(
        text.contains("\"--password\" \"[REDACTED:password]\" \"ghcr.io\"]")
            && text.contains("\"--token\" \"[REDACTED:password]\" \"--disable\"")
            && text.ends_with("\"--password\" is deprecated\n"),
        "{text}"
    );
}

/// What a Kubernetes cluster and its registries print of their secrets in a
/// CI run: a Secret's data (`kubectl get secret -o yaml`: a private key and
/// a registry config in base64), k3s's registries.yaml, containerd's and
/// Go's dumps of registry auth, and the command lines that log in.
#[test]
fn cluster_and_registry_secrets_are_redacted() {
    let key =
        base64_of("-----BEGIN PRIVATE KEY-----\nMIIEvQhunter1val\n-----END PRIVATE KEY-----\n");
    let certificate =
        base64_of("-----BEGIN CERTIFICATE-----\nMIIBkeep\n-----END CERTIFICATE-----\n");
    let config = base64_of(r#"{"auths":{"ghcr.io":{"auth":"hunter2val"}}}"#);
    let log = format!(
        "data:\n  tls.crt: {certificate}\n  tls.key: {key}\n  .dockerconfigjson: {config}\n\
         configs:\n  \"registry.internal:5000\":\n    auth:\n      auth: aHVudGVyM3ZhbDp4eHh4\n      identitytoken: hunter4val\n\
         [plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"ghcr.io\".auth]\n  identitytoken = \"hunter5val\"\n\
         Configs:map[ghcr.io:{{Auth:&RegistryAuth{{Username:rd,Password:hunter6val,Auth:aHVudGVyN3ZhbDp4eA==,}}}}]\n\
         + echo hunter8val | docker login ghcr.io -u rd --password-stdin\n\
         + nerdctl login ghcr.io -u rd --password-stdin <<< hunter9val\n\
         + aws configure set aws_session_token hunter10val\n\
         + npm config set //registry.npmjs.org/:_authToken hunter11val\n\
         + twine upload -u __token__ -p hunter12val dist/*\n\
         \x20     SIGNING_KEY:  hunter13val\n"
    );
    let text = collect_numbered_secrets("cluster.log", &log, 13);
    for secret in [
        &key,
        &config,
        "aHVudGVyM3ZhbDp4eHh4",
        "aHVudGVyN3ZhbDp4eA==",
    ] {
        assert!(!text.contains(secret), "{secret} kept: {text}");
    }
    // A certificate is not a secret.
    assert!(
        text.contains(&format!("tls.crt: {certificate}\n")),
        "{text}"
    );
    for kept in [
        "tls.key: [REDACTED:private-key-base64]\n",
        ".dockerconfigjson: [REDACTED:docker-config]\n",
        "      auth: [REDACTED:registry-auth]\n",
        "+ echo [REDACTED:password-stdin] | docker login",
    ] {
        assert!(text.contains(kept), "{kept:?} not in {text}");
    }
}

/// Where a secret's key stands with no secret after it, the line is kept:
/// a boolean, a reference to a secret (a workflow's `${{ secrets.X }}`, a
/// shell's `$X`), a placeholder, a value already masked, a label, a file,
/// an image digest after `name:tag@`, a key's header named in a message,
/// a pointer in a Go dump, and `Bearer` before a word.
#[test]
fn keys_without_a_secret_after_them_are_kept() {
    let log = "    automountServiceAccountToken: false\n\
               {\"automountServiceAccountToken\":false,\"x\":1}\n\
               RD_USE_TOKEN=true\n\
               Flag --password has been deprecated, use --password-stdin instead\n\
               \x20 password: ${{ secrets.DOCKERHUB_TOKEN }}\n\
               + echo \"$CR_PAT\" | docker login ghcr.io -u rd --password-stdin\n\
               \x20     - --token=$(K3S_TOKEN)\n\
               hint: use --token <value> or set RD_TOKEN\n\
               \x20 GITHUB_TOKEN: ***\n\
               token: REDACTED\n\
               client-key-data: DATA+OMITTED\n\
               passwd: password updated successfully\n\
               passwd: all authentication tokens updated successfully.\n\
               Password: su: Authentication failure\n\
               + kubectl create secret generic db --from-file=password=./password.txt\n\
               \x20 existingSecretKey: redis-password\n\
               + skopeo inspect docker://alpine:3.19@sha256:c5b1261d6d3e43071626931fc004f70149baeba2\n\
               msg=\"refusing /x: starts with -----BEGIN OPENSSH PRIVATE KEY-----\" file=/x\n\
               Registry:{Configs:map[ghcr.io:{Auth:0xc0001a2b40 TLS:<nil>}]}\n\
               OAuth: enabled\n\
               auth: basic\n\
               Bearer authentication failed for https://ghcr.io/token\n";
    let text = collect_one_log("kept.log", log.as_bytes(), &[]);
    assert_eq!(String::from_utf8_lossy(&text), log);
}

fn base64_of(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let n = chunk.iter().fold(0u32, |n, &b| n << 8 | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
