//! Redaction: secrets in collected logs are replaced by a marker that names
//! what was removed (`[REDACTED:github-token]`), line by line, on bytes (so
//! invalid UTF-8 outside secrets is kept), with PEM private-key blocks removed
//! whole while keeping their line count.
//!
//! A cheap pass finds whether a file holds anything that could start a secret
//! (a multi-pattern literal search); only then are its lines run through the
//! rules, each rule only on lines that hold one of its literals.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::bytes::Regex;
use serde::Serialize;

/// Lines longer than this are redacted in pieces of this size…
const MAX_LINE: usize = 1 << 20;
/// …that overlap by this much: the longest secret that cannot be split.
const OVERLAP: usize = 64 * 1024;
/// A stream is read this much at a time.
const READ_BUFFER: usize = 256 * 1024;

/// One rule: a name for the marker, the literals that must be on a line for
/// it to apply, and a regex whose group `s` (or the whole match) is the secret.
pub struct Rule {
    pub name: String,
    triggers: Vec<String>,
    pattern: String,
    /// Compiled the first time a line needs the rule: most rules meet no
    /// trigger in a run, and compiling all the built-in ones took about
    /// 6 ms of every run.
    regex: OnceLock<Regex>,
    /// The secret is the value of a key: see [`whole_value`].
    keyed_value: bool,
}

impl Rule {
    /// A rule whose pattern is compiled now, so that a wrong one is refused
    /// before the run starts.
    pub fn new(name: &str, triggers: &[&str], pattern: &str) -> Result<Rule, String> {
        let regex = Regex::new(pattern).map_err(|e| format!("redaction rule {name:?}: {e}"))?;
        let rule = Rule::compiled_when_needed(name, triggers, pattern);
        let _ = rule.regex.set(regex);
        Ok(rule)
    }

    /// A rule whose pattern is compiled when a line first needs it (the
    /// built-in ones: a test compiles each).
    fn compiled_when_needed(name: &str, triggers: &[&str], pattern: &str) -> Rule {
        Rule {
            name: name.to_string(),
            triggers: triggers.iter().map(|t| t.to_string()).collect(),
            pattern: pattern.to_string(),
            regex: OnceLock::new(),
            keyed_value: false,
        }
    }

    fn regex(&self) -> &Regex {
        self.regex.get_or_init(|| {
            Regex::new(&self.pattern).unwrap_or_else(|e| panic!("rule {} compiles: {e}", self.name))
        })
    }
}

/// curl's option that gives a user (and password): `-u`, `--user`, and a
/// proxy's `-U`, `--proxy-user`, before the next command. Both the password
/// and the curl-user rule start from it.
macro_rules! curl_user_option {
    () => {
        r#"\bcurl\s(?:[^\n|;&]*?\s)?(?:-[uU]\s*|--(?:proxy-)?user(?:=|\s+))["']?"#
    };
}

/// The name of a variable that holds a secret, in any case, as a name/value
/// pair names it (`DB_PASSWORD`, `githubToken`, `api_key`): one that ends
/// in such a word. Its literals are other rules' too (`ASSW`, `OKEN`,
/// `ECRET`, `_KEY`, …), so it costs the literal search nothing.
macro_rules! secret_variable_name {
    () => {
        r"(?i:[a-z0-9_.-]*(?:password|passwd|passphrase|secret|token|api_?key|[_.-]key|[_.-]pass))"
    };
}

/// The built-in rules. Each pattern keeps the key or scheme and replaces
/// only the value, so a reader still sees what was there.
pub fn builtin_rules() -> Vec<Rule> {
    // Triggers are case-sensitive literals without their first letter where
    // case varies ("assword" for password, Password, …): that keeps the
    // scan on the fast, vectorised literal search. That search (Teddy, in
    // `aho-corasick`) takes at most 64 literals, the user's included; past
    // that the scan takes about a third longer. Rules share literals where
    // they can ("oken" for every form of token).
    let rules: [(&str, &[&str], &str); 27] = [
        (
            "github-token",
            &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
            // No word edge before: a token may follow a percent-escape
            // (`%2Fghp_…`) or be glued to other text; its prefix and length
            // are telling enough.
            r"(?P<s>(?:gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_[A-Za-z0-9_]{20,255}))",
        ),
        (
            "gitlab-token",
            &["glp", "gldt-"],
            // Personal, pipeline trigger and deploy tokens.
            r"(?P<s>gl(?:pat|ptt|dt)-[A-Za-z0-9_.-]{20,255})",
        ),
        (
            "slack-token",
            &["xox", "hooks.slack.com/"],
            // Bot, user, app and refresh tokens (the whole match), and the
            // secret path of an incoming webhook.
            r"hooks\.slack\.com/services/(?P<s>T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+)|xox(?:[abeoprs]|e\.xox[bp])-[A-Za-z0-9-]{10,255}",
        ),
        ("google-api-key", &["AIza"], r"(?P<s>AIza[A-Za-z0-9_-]{35})"),
        ("npm-token", &["npm_"], r"(?P<s>npm_[A-Za-z0-9]{36})"),
        (
            "vault-token",
            &["hvs.", "hvb."],
            // HashiCorp Vault's service and batch tokens, as `vault login`
            // and `vault token create` print them; not a Java package
            // (`com.acme.hvs.LongClassName`).
            r"(?:^|[^A-Za-z0-9_.])(?P<s>hv[sb]\.[A-Za-z0-9_-]{24,})",
        ),
        (
            "aws-access-key-id",
            &["AKIA", "ASIA"],
            r"(?P<s>\b(?:AKIA|ASIA)[A-Z0-9]{16})\b",
        ),
        (
            "aws-secret-access-key",
            // The password rule's and the key id's: a literal rules share
            // is one pattern.
            &["ecret", "ECRET", "AKIA", "ASIA"],
            // Also as `aws configure set aws_secret_access_key …` takes it,
            // and right after its key id (`mc alias set s3 URL AKIA… …`).
            r#"(?i)(?:secret[_-]?access[_-]?key\\?["']?(?:\s*[:=]\s*|\s+)\\?["']?|(?-i:\b(?:AKIA|ASIA)[A-Z0-9]{16})\s+\\?["']?)(?P<s>[A-Za-z0-9/+=]{30,})"#,
        ),
        (
            "azure-key",
            &["ntKey=", "dAccessKey="],
            // Storage and Service Bus connection strings.
            r#"\b(?:AccountKey|SharedAccessKey)=(?P<s>[^\s;"'&]+)"#,
        ),
        (
            "url-signature",
            &["sig=", "-Signature="],
            // A signed URL's signature, which grants access on its own: Azure
            // SAS (`?sig=`, `&sig=`: one literal), S3 and GCS presigned URLs.
            r#"[?&](?:sig|X-(?:Amz|Goog)-Signature)=(?P<s>[^\s&"'#<>]+)"#,
        ),
        (
            "authorization",
            &["uthorization", "UTHORIZATION"],
            // Also as Go prints a header (`Authorization:[Basic x]`) and as
            // JSON holds one (`"Authorization": ["Basic x"]`).
            r#"(?i)\bauthorization\\?["']?\s*[:=]\s*\[?\\?["']?(?:(?:basic|bearer|token|digest|negotiate)\s+)?(?P<s>[^\s"',;]{5,}[^\s"',;\\\]])"#,
        ),
        (
            "bearer",
            &["earer", "EARER"],
            r"(?i)\bbearer\s+(?P<s>[A-Za-z0-9._~+/=-]{8,})",
        ),
        (
            "jwt",
            &["eyJ"],
            r"(?P<s>\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})",
        ),
        (
            "kubeconfig",
            // (`-key`: the password rule's too, for `x-api-key`.) A token
            // may hold `:` and `~`: k3s's (`K10…::server:…`), Rancher's
            // (`kubeconfig-user-x.c-y:…`), Azure's client secrets. One plain
            // word is prose, not a token: see `KUBECONFIG_RULE`.
            &["-key", "-certificate-data", "oken", "OKEN"],
            r#"(?i)(?:client-key-data|client-certificate-data|\btoken)\\?["']?\s*:\s*\\?["']?(?P<s>[A-Za-z0-9+/=._~:-]{8,})"#,
        ),
        (
            "url-password",
            &["://"],
            // The user may be empty (`redis://:pw@host`) or hold an `@`
            // (an e-mail address); the password runs to the last `@` before
            // the host, so it may hold one too.
            r#"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:'"]*:(?P<s>[^/\s'"]+)@"#,
        ),
        (
            "docker-auth",
            // Not `auth"`: its first bytes, which the literal search
            // keys on, made that search 30% slower on JSON logs.
            &["uth\"", "uth\\\""],
            // Docker's `"auth"` (base64 of user:password), in a config or
            // `DOCKER_AUTH_CONFIG`, also as escaped JSON; `"oauth"` is not it.
            r#"(?:^|[^A-Za-z0-9_])\\?"auth\\?"\s*:\s*\\?"(?P<s>[^"\\\s]+)"#,
        ),
        (
            "cookie",
            &["ookie"],
            // A `Cookie:` header's values (its first name stays), also as Go
            // prints a header and in JSON, and what curl's cookie engine
            // reports (`* Added cookie sid="x" for domain …`). Not after a
            // `-`: a `Set-Cookie:` keeps its attributes.
            r#"(?i)(?:(?:^|[^A-Za-z0-9_-])cookie\\?["']?\s*:\s*\[?\\?["']?[^\s"';=\]\\]+=|(?-i:(?:Added|Replaced) cookie )[^\s"';=]+=")(?P<s>[^\s"';\]\\]+(?:;\s*[^\s"';\]\\]+)*)"#,
        ),
        (
            "set-cookie",
            &["ookie"],
            // The value a `Set-Cookie:` sets; its attributes stay.
            r#"(?i)\bset-cookie\\?["']?\s*:\s*\[?\\?["']?[^\s"';=\]\\]+=(?P<s>[^\s"';\]\\]+)"#,
        ),
        (
            "env-secret",
            // Also `GPG_PASSPHRASE`, Rails' `SECRET_KEY_BASE`, and
            // `MYSQL_PWD` and `DB_PWD` (not any `*_PWD`: `HOST_PWD=/home/…`
            // is a folder).
            &["OKEN", "ECRET", "_PASS", "_KEY", "_PWD="],
            r#"\b(?:[A-Z][A-Z0-9_]*(?:_TOKEN|_SECRET|_PASSWORD|_PASSWD|_PASSPHRASE|_KEY|_KEY_BASE|_PASS)|(?:[A-Z][A-Z0-9_]*_)?(?:MYSQL|DB)_PWD)=\\?["']?(?P<s>[^\s"'\x1b]*[^\s"'\x1b\\])"#,
        ),
        (
            "password",
            &[
                "assw", "ASSW", "ecret", "ECRET", "oken", "OKEN", "pi_key", "pikey", "piKey",
                "PIK", "sshpass", "mysql", " -p", "curl", "assph", "ASSPH",
                // An API key's name as headers and configs spell it
                // (`API_KEY: x`, with the env-secret rule's `_KEY`;
                // `x-api-key`, `X-Api-Key`, `X-API-KEY`, `API_Key`). Not
                // `-KEY` and `_Key`: with 8 buckets (ARM) the literal search
                // checked 20% more places.
                "_KEY", "-key", "-Key", "I-KEY", "I_Key",
                // Mixed case, as connection strings and Go's struct dumps
                // write keys: `PassWord`, `passWord`, `APIKey`, `APIKEY`.
                "assW",
                // `REGISTRY_PASS: x`, as `kubectl describe` prints a
                // container's environment (the env-secret rule's literal).
                "_PASS",
            ],
            // `password=x`, `token = x` starting a line (INI, TOML; not
            // an assignment in code), `"token":"x"` (or
            // `["x"]`, a Go or JSON header's values); `password: x` (YAML,
            // cloud-init) for the names that are never a plain word, and
            // `GITHUB_TOKEN: x`, `client_secret: x`, `REGISTRY_PASS: x` for
            // compound ones;
            // PostgreSQL's `PGPASSWORD=x`;
            // `--password x`;
            // a camelCase key ending in one (`accessToken`, `dbPassword`:
            // never a plain word either) in any of those forms;
            // `sshpass -p x` and `mysql … -px` (`-P` is mysql's port);
            // `docker login … -p x` (any `login`: registries, az, oc),
            // `curl -u user:x` (`--user`; a proxy's `-U`, `--proxy-user`)
            // and `--token x` (also `--auth-token x`, and `<<< x`);
            // an object store's secret key in any spelling (`secretKey: x`,
            // `SecretKey = "x"`, `secret_key = x`, `fs.s3a.secret.key=x`,
            // `Secret Key: x` as s3cmd prints it, `--s3-secret-access-key x`);
            // `--api-key x`, `--client-secret x`, the Azure CLI's
            // `--account-key x` (not any `--*-secret`:
            // `--pull-secret regcred` names one), and each of those flags
            // in a JSON argument list (`["--password","x"]`) or as Go's `%q`
            // prints one (`["login" "--password" "x"]`); `.netrc`'s
            // `machine h login u password x`; openssl's `-passout pass:x`;
            // `twine upload -p x`, `--password-stdin <<< x`, `npm config set
            // //registry/:_authToken x`, `aws configure set
            // aws_session_token x`; containerd's `identitytoken = "x"`.
            // A `passphrase` is a password in each form, and so is a Java
            // property's (`-Dpassword=x`).
            concat!(
                r#"(?i)(?:(?-i:-D)(?:password|passwd|passphrase)=\\?["']?|(?:\b|_)(?:(?:(?:pg)?password|passwd|passphrase|secret|(?:identity|registry)?token|api[_-]?key|secret[_.-]?(?:access[_.-]?)?key)(?:\\?"\s*:\s*\[?\\?"|=\\?["']?)|(?:password|passwd|passphrase|identitytoken|api[_-]?key|secret[ _.-]?(?:access[_.-]?)?key)\\?["']?\s*:\s*\[?\\?["']?)|(?:_(?:token|secret)|(?-i:[A-Z0-9]_(?:PASS|KEY)))\\?["']?\s*:\s*\[?\\?["']?|^[ \t]*(?:[a-z0-9_]*_|identity)?(?:password|passwd|passphrase|secret(?:[_.-]?(?:access[_.-]?)?key)?|token|api[_-]?key)\s+=\s+["']?|(?-i:[a-z0-9](?:Password|Passwd|Passphrase|Secret(?:(?:Access)?Key)?|Token|ApiKey))(?:=\\?["']?|\\?["']?\s*:\s*\[?\\?["']?)|(?:--?(?:password|passwd|passphrase)|--(?:[a-z]+-)*api-key|--client-secret|--account-key|--(?:[a-z0-9]+-)*secret[-_]?(?:access[-_]?)?key)(?:\s+\\?["']?|=\\?["']?|\\?"\s*,\s*\\?"|"\s+")|(?-i:\bsshpass\s+-p\s*["']?|\bmysql[a-z]*\s(?:[^\n]*?\s)?["']?-p["']?|\blogin\s(?:[^\n]*?\s)?-p(?:=|\s+)?["']?|\bmachine\s+\S+\s+login\s+\S+\s+password\s+|\s-pass(?:in|out)\s+["']?pass:|\btwine\s(?:[^\n]*?\s)?-p\s+["']?|--password-stdin\s*<<<\s*["']?|:_authToken\s+["']?|\bconfigure\s+set\s+[a-z_.]*(?:token|password)\s+["']?|"#,
                curl_user_option!(),
                r#"[^\s:"']*:|[\s"]--(?:[a-z]+-)*token(?:\s+(?:<<<\s*)?["']?|\\?"\s*,\s*\\?"|"\s+")))(?P<s>[^\s"',;&\x1b]*[^\s"',;&\x1b\\])"#
            ),
        ),
        (
            "env-value",
            &[
                "ASSW", "assw", "assW", "ASSPH", "assph", "OKEN", "oken", "ECRET", "ecret", "_KEY",
                "pi_key", "pikey", "piKey", "PIK", "-key", "-Key", "I-KEY", "I_Key", "_PASS",
            ],
            // An environment variable as a name/value pair, on one line:
            // Kubernetes' and ECS's JSON (`{"name":"DB_PASSWORD","value":"x"}`),
            // YAML's flow style (`{name: API_TOKEN, value: x}`) and Go's dump
            // of a Kubernetes `EnvVar` (`{Name:DB_PASSWORD Value:x ValueFrom:nil}`,
            // whose value may hold blanks: it ends before ` ValueFrom:`). A
            // value ends at a quote, a comma or a closing bracket, so that a
            // number (`"value":17}`) leaves what follows. (Over two lines,
            // `- name: DB_PASSWORD` then `value: x`: see `Carry::secret_named`.)
            concat!(
                r#"(?i:\bname)\\?["']?\s*[:=]\s*\\?["']?"#,
                secret_variable_name!(),
                r#"\\?["']?\s*,?\s*\\?["']?(?i:value)\\?["']?\s*[:=]\s*\\?["']?(?P<s>[^\s"',}\]\\\x1b](?:[^"',}\]\\\x1b\n]*?[^\s"',}\]\\\x1b])??)(?:\s+ValueFrom:|\s*[,}\]"'\\\x1b]|\s*$)"#
            ),
        ),
        (
            "curl-user",
            &["curl"],
            // `curl -u TOKEN:`: with no password, the user is the secret
            // (CircleCI's and Stripe's APIs take a token so).
            concat!(curl_user_option!(), r#"(?P<s>[^\s:"']+):(?:["'\s]|$)"#),
        ),
        (
            "password-stdin",
            &["assw"],
            // What a shell's trace shows of `echo "$TOKEN" | docker login
            // --password-stdin` (also nerdctl, helm, oras, podman, skopeo).
            r#"\b(?:echo(?:\s+-[ne]+)?|printf(?:\s+["']?%s(?:\\n)?["']?)?)\s+["']?(?P<s>[^\s"'|;&]+)["']?\s*\|\s*(?:sudo\s+)?[A-Za-z][\w./-]*\s(?:[^|\n]*?\s)?--password-stdin\b"#,
        ),
        (
            "registry-auth",
            &["uth:"],
            // A registry's `auth` (base64 of user:password) as k3s's
            // registries.yaml and YAML dumps hold it (`auth: x`), and as Go
            // prints a containerd or docker `AuthConfig` (`Auth:x,`,
            // `Auth:"x"`); not `OAuth:`, nor a word (`auth: basic`).
            r#"(?i:\bauth):\s*["']?(?P<s>[A-Za-z0-9+/]{12,}={0,2})(?:["',}\s]|$)"#,
        ),
        (
            "docker-config",
            &["eyJ"],
            // A registry secret's `.dockerconfigjson` as Kubernetes shows
            // it: base64 of `{"auths":…}`, which holds each registry's
            // `auth`.
            r"(?P<s>\beyJhdXRocyI6[A-Za-z0-9+/=]+)",
        ),
        (
            "private-key-base64",
            // Base64 of a PEM private key, as a Secret's `tls.key` or
            // `ssh-privatekey` (`kubectl get secret -o yaml`); not of a
            // certificate. (The trigger is a piece of `LS0tLS1CRUdJTi`,
            // `-----BEGIN ` in base64, that the literal search buckets
            // well with the others.)
            &["S1CRUdJ"],
            r"(?P<s>LS0tLS1CRUdJTi(?:BSU0EgUFJJVkFURSBLRVkt|BFQyBQUklWQVRFIEtFWS0t|BPUEVOU1NIIFBSSVZBVEUgS0VZ|BQUklWQVRFIEtFWS0t|BFTkNSWVBURUQgUFJJVkFURSBL|BEU0EgUFJJVkFURSBLRVkt|BQR1AgUFJJVkFURSBLRVkgQkxP)[A-Za-z0-9+/=]*)",
        ),
        (
            "private-key",
            &["PRIVATE KEY"],
            r"(?P<s>-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|$))",
        ),
    ];
    rules
        .iter()
        .map(|(name, triggers, pattern)| {
            // (`\b` needs no care for colour codes: the rules read a line
            // without them, see `find_secrets`.)
            let mut rule = Rule::compiled_when_needed(name, triggers, pattern);
            rule.keyed_value = matches!(
                *name,
                "authorization" | "env-secret" | "password" | "password-stdin"
            );
            rule
        })
        .collect()
}

/// The rules and literals of one run, compiled once.
pub struct Redactor {
    rules: Vec<Rule>,
    literals: Vec<Vec<u8>>,
    /// Finds the first trigger or literal, fast: where to look closer.
    triggers: AhoCorasick,
    /// Finds every trigger on one line: which rules it needs.
    on_line: AhoCorasick,
    /// For each pattern of `triggers`: the rules it belongs to, and `None`
    /// if it is a literal. A literal that several rules share is one
    /// pattern: past 64 patterns, the vectorised search gives way to a
    /// slower one.
    owner: Vec<Vec<Option<usize>>>,
    /// Rules without literals (the user's): they run on every line.
    untriggered: Vec<usize>,
}

/// What a file's redaction replaced, per rule.
pub type Counts = BTreeMap<String, u64>;

/// The name under which literal values given by the user are counted.
pub const LITERAL_RULE: &str = "literal";

impl Redactor {
    pub fn new(rules: Vec<Rule>, literals: Vec<String>) -> Redactor {
        let literals: Vec<Vec<u8>> = literals
            .into_iter()
            .filter(|l| l.len() >= 4)
            .map(String::into_bytes)
            .collect();
        let (patterns, owner) = literal_patterns(&rules, &literals);
        let triggers = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostFirst)
            .build(&patterns)
            .expect("literal patterns build");
        let on_line = AhoCorasick::new(&patterns).expect("literal patterns build");
        let untriggered = rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.triggers.is_empty())
            .map(|(i, _)| i)
            .collect();
        Redactor {
            rules,
            literals,
            triggers,
            on_line,
            owner,
            untriggered,
        }
    }

    pub fn rule_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.rules.iter().map(|r| r.name.clone()).collect();
        if !self.literals.is_empty() {
            names.push(LITERAL_RULE.to_string());
        }
        names
    }

    /// Whether `data` could hold a secret: the cheap test before redacting.
    pub fn may_match(&self, data: &[u8]) -> bool {
        !self.untriggered.is_empty() || self.triggers.is_match(data)
    }

    /// The longest trigger: chunks scanned with [`may_match`] must overlap by this.
    pub fn overlap(&self) -> usize {
        self.triggers.max_pattern_len()
    }

    /// Copy `input` to `output`, redacting. Returns the counts per rule.
    pub fn redact_stream(
        &self,
        input: &mut dyn Read,
        output: &mut dyn Write,
    ) -> io::Result<Counts> {
        self.redact_with_buffers(input, output, READ_BUFFER)
    }

    /// `data` redacted, and the counts per rule. For what is already in
    /// memory: its buffers are sized to `data`, not to a stream. (With many
    /// small logs, mapping and unmapping a stream's buffers for each one
    /// cost more than redacting it.)
    pub fn redact_bytes(&self, data: &[u8]) -> (Vec<u8>, Counts) {
        let mut redacted = Vec::with_capacity(data.len());
        let counts = self
            .redact_with_buffers(
                &mut &data[..],
                &mut redacted,
                data.len().clamp(1, READ_BUFFER),
            )
            .expect("reading and writing memory cannot fail");
        (redacted, counts)
    }

    fn redact_with_buffers(
        &self,
        input: &mut dyn Read,
        output: &mut dyn Write,
        read_size: usize,
    ) -> io::Result<Counts> {
        let mut counts = Counts::new();
        let mut pending: Vec<u8> = Vec::with_capacity(2 * read_size);
        let mut buf = vec![0u8; read_size];
        let mut carry = Carry::default();
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            pending.extend_from_slice(&buf[..n]);
            // Whole lines go on; the last, unfinished one waits for more.
            let ready = memchr::memrchr(b'\n', &pending).map_or(0, |i| i + 1);
            if ready == 0 && pending.len() >= MAX_LINE {
                // A line this long is redacted in pieces. Each piece is
                // searched whole, but only written up to OVERLAP bytes
                // before its end (or past a secret whose key or value crosses that point):
                // the rest is searched again with what follows, so no
                // secret shorter than OVERLAP is ever split.
                let found = self.find_secrets(&pending);
                let mut cut = pending.len() - OVERLAP;
                if let Some(crossing) = found.iter().find(|s| s.key < cut && s.end > cut) {
                    // A match that runs to the piece's end may go on beyond
                    // it: leave it whole, with its key, for the next piece.
                    cut = if crossing.end < pending.len() || crossing.key == 0 {
                        crossing.end
                    } else {
                        crossing.key
                    };
                }
                let before: Vec<Secret> = found.into_iter().filter(|s| s.end <= cut).collect();
                // A line this long is not a name's value line.
                carry.secret_named = None;
                output.write_all(&replace(&pending[..cut], &before, &mut counts))?;
                pending.drain(..cut);
                continue;
            }
            self.redact_lines(&pending[..ready], &mut carry, &mut counts, output)?;
            pending.drain(..ready);
        }
        self.redact_lines(&pending, &mut carry, &mut counts, output)?;
        Ok(counts)
    }

    /// Redact a run of whole lines. Lines without a trigger (nearly all) are
    /// copied in bulk; only lines that hold one go through the rules.
    fn redact_lines(
        &self,
        chunk: &[u8],
        carry: &mut Carry,
        counts: &mut Counts,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let line_end = |from: usize| {
            memchr::memchr(b'\n', &chunk[from..]).map_or(chunk.len(), |i| from + i + 1)
        };
        let mut pos = 0;
        while pos < chunk.len() {
            if carry.pem.is_some() || carry.secret_named.is_some() || !self.untriggered.is_empty() {
                let end = line_end(pos);
                // The line after, if this chunk holds it: a key's short last
                // line is told by the end marker after it.
                let next = (end < chunk.len()).then(|| &chunk[end..line_end(end)]);
                self.redact_line(&chunk[pos..end], next, carry, counts, out)?;
                pos = end;
                continue;
            }
            let Some(found) = self.triggers.find(&chunk[pos..]) else {
                return out.write_all(&chunk[pos..]);
            };
            let at = pos + found.start();
            let start = memchr::memrchr(b'\n', &chunk[pos..at]).map_or(pos, |i| pos + i + 1);
            let end = line_end(at);
            out.write_all(&chunk[pos..start])?;
            self.redact_line(&chunk[start..end], None, carry, counts, out)?;
            pos = end;
        }
        Ok(())
    }

    fn redact_line(
        &self,
        line: &[u8],
        next: Option<&[u8]>,
        carry: &mut Carry,
        counts: &mut Counts,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let (body, ending) = split_ending(line);
        // The value of a secret's variable named on the line before: a
        // secret like any other on this line (it may start a key block).
        let value = carry
            .secret_named
            .take()
            .and_then(|named| named_value(body, &named))
            .map(|value| Secret {
                start: value.start,
                end: value.end,
                key: value.start,
                rule: ENV_VALUE_RULE.to_string(),
            });
        let in_pem = &mut carry.pem;
        if let Some(block) = in_pem.as_mut() {
            // Once a key line has kept the prefix, a line without it is
            // another source's (`db-1   | …` among `web-1  | …`): a few
            // leave the block open, and their end markers are not its end.
            let own = |plain: &[u8]| !block.exact || same_source(plain, block);
            let plain_body = without_escapes(body).0;
            if !own(&plain_body) {
                block.foreign += 1;
                if block.foreign > FOREIGN_LINES {
                    *in_pem = None;
                }
            } else {
                let next = next.filter(|next| own(&without_escapes(next).0));
                if let Some((key, kind)) = pem_material_coloured(body, block, next) {
                    // Inside a PEM private key block: the key material of every
                    // line goes, the line count and each line's prefix stay.
                    block.headers &= kind == PemLine::Header;
                    if kind == PemLine::Base64 {
                        block.body = true;
                        block.width = key.len();
                    }
                    block.exact |=
                        !block.prefix.is_empty() && plain_body.starts_with(&block.prefix);
                    block.foreign = 0;
                    if kind == PemLine::End {
                        *in_pem = None;
                    }
                    out.write_all(&body[..key.start])?;
                    if !key.is_empty() {
                        out.write_all(b"[REDACTED:private-key]")?;
                    }
                    out.write_all(&body[key.end..])?;
                    return out.write_all(ending);
                }
                // Not key material: the block was only mentioned, or it ended oddly.
                *in_pem = None;
            }
        }
        let mut found = self.find_secrets(body);
        if let Some(value) = value {
            found.push(value);
            found = merge(found);
        }
        // `- name: DB_PASSWORD`: the value is on the next line.
        carry.secret_named = secret_name_entry(body);
        if found.is_empty() {
            return out.write_all(line);
        }
        // A key block that starts on this line and does not end on it goes on.
        if let Some(last) = found.iter().rev().find(|s| s.rule == PRIVATE_KEY_RULE)
            && without_escapes(&body[last.end..]).0.is_empty()
            && memmem(&body[last.start..], b"-----END ").is_none()
        {
            // Its lines carry what came before it on this one (`web-1  | `,
            // a timestamp, indentation).
            *in_pem = Some(PemBlock {
                prefix: without_escapes(&body[..last.start]).0,
                headers: true,
                body: false,
                width: 0,
                exact: false,
                foreign: 0,
            });
        }
        out.write_all(&replace(body, &found, counts))?;
        out.write_all(ending)
    }

    /// Where each secret on the line `text` lies, its key included: what a
    /// cut through the line must not split (a piece of a secret is too short
    /// for any rule to know it).
    pub fn secret_spans(&self, text: &[u8]) -> Vec<(usize, usize)> {
        self.find_secrets(text)
            .into_iter()
            .map(|s| (s.key.min(s.start), s.end))
            .collect()
    }

    /// Every secret on `text`, found on the original bytes by every rule that
    /// applies (so one rule's marker never hides another's match), merged
    /// where they overlap, in order.
    fn find_secrets(&self, text: &[u8]) -> Vec<Secret> {
        if memchr::memchr(0x1b, text).is_none() {
            return self.find_secrets_in(text);
        }
        // Colour codes around a key or its value (`\x1b[36mpassword\x1b[0m=x`,
        // as logrus colours its fields) would hide it from the rules: they
        // read the line without them, and what they find is placed back.
        let (plain, at) = without_escapes(text);
        self.find_secrets_in(&plain)
            .into_iter()
            .map(|s| Secret {
                start: at[s.start],
                end: at[s.end - 1] + 1,
                key: at[s.key],
                rule: s.rule,
            })
            .collect()
    }

    fn find_secrets_in(&self, text: &[u8]) -> Vec<Secret> {
        let mut needed = vec![false; self.rules.len()];
        for &rule in &self.untriggered {
            needed[rule] = true;
        }
        let mut literal = false;
        for found in self.on_line.find_overlapping_iter(text) {
            for who in &self.owner[found.pattern().as_usize()] {
                match who {
                    Some(rule) => needed[*rule] = true,
                    None => literal = true,
                }
            }
        }
        let mut found: Vec<Secret> = Vec::new();
        for (rule, _) in self.rules.iter().zip(&needed).filter(|(_, n)| **n) {
            for caps in rule.regex().captures_iter(text) {
                if let Some(m) = caps
                    .name("s")
                    .or_else(|| caps.get(0))
                    .filter(|m| !m.is_empty())
                {
                    let key = caps.get(0).map_or(m.start(), |whole| whole.start());
                    let end = match rule.keyed_value {
                        true => whole_value(text, key, m.start(), m.end(), &rule.name),
                        false if rule.name == ENV_VALUE_RULE => {
                            quoted_value_end(text, m.start(), m.end())
                        }
                        false => m.end(),
                    };
                    if rule.keyed_value
                        && (is_a_word_not_a_value(text, m.start(), end)
                            || shows_no_secret(&text[m.start()..end])
                            || names_an_object(&text[key..m.start()], &text[m.start()..end])
                            || helm_names_a_secret(text, key))
                    {
                        continue;
                    }
                    // `Bearer authentication failed`: a token is never a
                    // lowercase word.
                    if rule.name == "bearer"
                        && text[m.start()..end].iter().all(u8::is_ascii_lowercase)
                    {
                        continue;
                    }
                    // Go's pointer to an `AuthConfig` (`Auth:0xc0001a2b40`).
                    if rule.name == "registry-auth" && text[m.start()..].starts_with(b"0x") {
                        continue;
                    }
                    // An image by digest (`docker://alpine:3.19@sha256:…`)
                    // has no password.
                    if rule.name == "url-password" && text[end..].starts_with(b"@sha") {
                        continue;
                    }
                    // A key's header named in a message or a command
                    // (`starts with -----BEGIN … KEY-----"`, `grep
                    // '-----BEGIN RSA PRIVATE KEY-----' /etc/ssl`), not a key.
                    if rule.name == PRIVATE_KEY_RULE && mentions_a_key(text, m.start()) {
                        continue;
                    }
                    if rule.name == KUBECONFIG_RULE
                        && (text[m.start()..end].iter().all(u8::is_ascii_lowercase)
                            || shows_no_secret(&text[m.start()..end]))
                    {
                        continue;
                    }
                    // Go's dump of an `EnvVar` with no value (it comes from
                    // `valueFrom`): `Value: ValueFrom:&EnvVarSource{…}`.
                    if rule.name == ENV_VALUE_RULE && text[m.start()..].starts_with(b"ValueFrom:") {
                        continue;
                    }
                    found.push(Secret {
                        start: m.start(),
                        end,
                        key,
                        rule: rule.name.clone(),
                    });
                }
            }
        }
        if literal {
            for value in &self.literals {
                let mut from = 0;
                while let Some(at) = memmem(&text[from..], value).map(|i| from + i) {
                    found.push(Secret {
                        start: at,
                        end: at + value.len(),
                        key: at,
                        rule: LITERAL_RULE.to_string(),
                    });
                    from = at + value.len();
                }
            }
        }
        merge(found)
    }
}

/// Where the value a rule matched at `start..end` of `text` really ends
/// (the match began at `key`). A rule's value stops at a blank or a quote,
/// which leaves most of a quoted passphrase (`PASSWORD="correct horse"`):
/// a value right after a quote runs to the quote that closes it (an escaped
/// one, `\"`, after an escaped opening one), or to the line's end if none
/// does; so does a value in a word that a quote opens, as a shell's trace
/// quotes a word with blanks or `;` (`+ curl -u 'admin:a;b'`). An
/// `*_TOKEN`-style variable that starts its line (`env` prints `NAME=a b`,
/// with no quotes) runs to the line's end. A value that is not quoted does
/// not take a closing bracket it did not open (`(password=x)`, `[token=x]`).
fn whole_value(text: &[u8], key: usize, start: usize, end: usize, rule: &str) -> usize {
    let line_end = text.len();
    // The quote the value is in: right before it, or right after the key's
    // `:` or `=` when a scheme comes first (`Authorization: "Basic a b"`).
    let opening = match start.checked_sub(1).map(|i| text[i]) {
        Some(quote @ (b'"' | b'\'')) => Some((quote, start - 1)),
        _ => text[key..start]
            .iter()
            .position(|&b| b == b':' || b == b'=')
            .map(|sep| key + sep + 1)
            .map(|after| {
                after
                    + text[after..start]
                        .iter()
                        .take_while(|b| b.is_ascii_whitespace())
                        .count()
            })
            // A header's values in brackets: `["Basic a b"]`.
            .map(|at| at + usize::from(at < start && text[at] == b'['))
            .map(|at| at + usize::from(at < start && text[at] == b'\\'))
            .filter(|&at| at < start && matches!(text[at], b'"' | b'\''))
            .map(|at| (text[at], at))
            .or_else(|| quoted_word(text, start)),
    };
    match opening {
        Some((quote, at)) => closing_quote(text, quote, at, start).max(end),
        _ if rule == "env-secret" && text[..key].trim_ascii().is_empty() => line_end,
        _ => without_unopened_closers(&text[start..end]) + start,
    }
}

/// Whether the value at `start..end` is a word of a sentence that names a
/// flag (docker's `WARNING! Using --password via the CLI is insecure`,
/// `--token is deprecated`) or the type a usage text gives it
/// (`--api-key string   API key used to …`) rather than the flag's value;
/// or what a tool writes where a value is not shown: MySQL's `Access denied
/// … (using password: YES)`, `kubectl describe`'s `DB_PASSWORD:  <set to
/// the key 'password' in secret 'db'>` and a secret's size (`password:  8
/// bytes`).
fn is_a_word_not_a_value(text: &[u8], start: usize, end: usize) -> bool {
    const WORDS: [&[u8]; 24] = [
        b"via",
        b"is",
        b"was",
        b"has",
        b"been",
        b"all",
        b"and",
        b"or",
        b"not",
        b"in",
        b"on",
        b"for",
        b"from",
        b"with",
        b"to",
        b"instead",
        b"flag",
        b"string",
        b"strings",
        b"stringArray",
        b"value",
        b"YES",
        b"NO",
        b"<set",
    ];
    let value = &text[start..end];
    let a_size = value.iter().all(u8::is_ascii_digit) && text[end..].starts_with(b" bytes");
    start > 0 && text[start - 1].is_ascii_whitespace() && (WORDS.contains(&value) || a_size)
}

/// Whether a value stands where a secret would and shows none: a boolean
/// or null (`automountServiceAccountToken: false`), a reference to one
/// (`${{ secrets.TOKEN }}`, `$(K3S_TOKEN)`, `${PASSWORD}`, `$DB_PASSWORD`),
/// a placeholder (`<value>`), a value already masked (`***`, `REDACTED`,
/// kubectl's `DATA+OMITTED`), the key's own word again (`passwd: password
/// updated`), a label (`Password: su: Authentication failure`), or a file
/// (`--from-file=password=./password.txt`).
fn shows_no_secret(value: &[u8]) -> bool {
    const SHOWN: [&[u8]; 14] = [
        b"true",
        b"false",
        b"null",
        b"nil",
        b"none",
        b"password",
        b"passwd",
        b"passphrase",
        b"token",
        b"secret",
        b"redacted",
        b"<redacted>",
        b"data+omitted",
        b"<nil>",
    ];
    let lower = value.to_ascii_lowercase();
    let variable = |name: &[u8]| {
        !name.is_empty()
            && name
                .iter()
                .all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    };
    SHOWN.contains(&lower.as_slice())
        || value.starts_with(b"${")
        || value.starts_with(b"$(")
        || value.strip_prefix(b"$").is_some_and(variable)
        || (value.len() > 2
            && value.starts_with(b"<")
            && value.ends_with(b">")
            && value[1..value.len() - 1]
                .iter()
                .all(|&b| b.is_ascii_alphabetic() || b == b'-' || b == b'_'))
        || (value.len() >= 3 && value.iter().all(|&b| b == b'*'))
        || value.starts_with(b"[REDACTED")
        || value.ends_with(b":")
        || [&b"./"[..], b"../", b"~/"]
            .iter()
            .any(|p| value.starts_with(p))
}

/// Whether the key the match at `key` is in is a Helm chart's
/// `existingSecret…` (`existingSecretKey: redis-password`): its value names
/// a Kubernetes secret or a key of one.
fn helm_names_a_secret(text: &[u8], key: usize) -> bool {
    let word_start = text[..key]
        .iter()
        .rposition(|b| !b.is_ascii_alphanumeric())
        .map_or(0, |i| i + 1);
    text[word_start..].starts_with(b"existing")
}

/// Whether the PEM header at `start` of `text` is only named in a sentence
/// (`msg="…: starts with -----BEGIN … KEY-----"`): after a word, and with a
/// quote, a backtick or a closing bracket right after it where a key's
/// body or the line's end would be, and no end of a key after it. A header
/// that starts a string is a key's first line (a JSON record per line, a
/// key's lines in a list, `["-----BEGIN …-----", "MIIE…", …]`).
fn mentions_a_key(text: &[u8], start: usize) -> bool {
    let header = &text[start..];
    let Some(dashes) = memmem(&header[5..], b"-----") else {
        return false;
    };
    start > 0
        && text[start - 1] == b' '
        && matches!(
            header.get(5 + dashes + 5),
            Some(b'"' | b'\'' | b'`' | b')' | b']' | b',' | b'>')
        )
        && memmem(header, b"-----END ").is_none()
}

/// Whether a `secret=` or `token=` value names a Kubernetes object rather
/// than holding a secret, as klog writes the one a line is about
/// (`"Syncing" secret="kube-system/k3s-serving"`): two lowercase names of
/// letters, digits, `-` and `.`, a `/` between. A secret's value has
/// capitals, or other signs, nearly always; a password's is never taken so.
fn names_an_object(key: &[u8], value: &[u8]) -> bool {
    let name = |part: &[u8]| {
        part.first().is_some_and(u8::is_ascii_alphanumeric)
            && part.last().is_some_and(u8::is_ascii_alphanumeric)
            && part
                .iter()
                .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    };
    (key.starts_with(b"secret") || key.starts_with(b"token"))
        && value
            .iter()
            .position(|&b| b == b'/')
            .is_some_and(|slash| name(&value[..slash]) && name(&value[slash + 1..]))
}

/// The quote that opens the word `start` is in, if it is still open there.
fn quoted_word(text: &[u8], start: usize) -> Option<(u8, usize)> {
    // Within a bound: a line of many values without blanks stays linear.
    let from = start.saturating_sub(1024);
    let word = text[from..start]
        .iter()
        .rposition(u8::is_ascii_whitespace)
        .map_or(from, |i| from + i + 1);
    let quote = *text.get(word).filter(|q| matches!(q, b'"' | b'\''))?;
    (word < start && !text[word + 1..start].contains(&quote)).then_some((quote, word))
}

/// The length of `value` without the closing brackets at its end that it
/// does not open.
fn without_unopened_closers(value: &[u8]) -> usize {
    let count = |b: u8| value.iter().filter(|&&c| c == b).count() as isize;
    let mut unopened =
        [b"()", b"[]", b"{}"].map(|[open, close]| (*close, count(*close) - count(*open)));
    let mut len = value.len();
    while len > 1 {
        match unopened
            .iter_mut()
            .find(|(close, _)| *close == value[len - 1])
        {
            Some((_, left)) if *left > 0 => *left -= 1,
            _ => break,
        }
        len -= 1;
    }
    len
}

/// `text` without its ANSI escape sequences (colours, `\x1b[1m`), and the
/// place in `text` of each byte kept. A sequence between two letters or
/// digits leaves a `\x1f` (a separator, not a blank), so that a word still
/// starts after it (`INFO\x1b[0mpassword=x`) and a value runs across it.
fn without_escapes(text: &[u8]) -> (Vec<u8>, Vec<usize>) {
    let mut plain = Vec::with_capacity(text.len());
    let mut at = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == 0x1b && text.get(i + 1) == Some(&b'[') {
            let params = text[i + 2..]
                .iter()
                .take_while(|b| b.is_ascii_digit() || matches!(b, b';' | b'?'))
                .count();
            if text
                .get(i + 2 + params)
                .is_some_and(u8::is_ascii_alphabetic)
            {
                let after = i + 2 + params + 1;
                if plain.last().is_some_and(u8::is_ascii_alphanumeric)
                    && text.get(after).is_some_and(u8::is_ascii_alphanumeric)
                {
                    plain.push(0x1f);
                    at.push(i);
                }
                i = after;
                continue;
            }
        }
        plain.push(text[i]);
        at.push(i);
        i += 1;
    }
    (plain, at)
}

/// The rule whose match starts a multi-line block.
const PRIVATE_KEY_RULE: &str = "private-key";

/// One secret's place on a line, and the rule that found it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Secret {
    start: usize,
    end: usize,
    /// Where the match began: the key whose value this is, if any.
    key: usize,
    rule: String,
}

/// The literal search's patterns, in the order it gets them, and for each
/// the rules it belongs to (`None`: a literal).
fn literal_patterns(
    rules: &[Rule],
    literals: &[Vec<u8>],
) -> (Vec<Vec<u8>>, Vec<Vec<Option<usize>>>) {
    let (patterns, owner) = distinct_patterns(rules, literals);
    crate::literal_buckets::order_for_buckets(patterns, owner)
}

/// The rules' triggers and the literals, in rule order, each with the rules
/// it belongs to (`None`: a literal). A literal that several rules share is
/// one pattern.
fn distinct_patterns(
    rules: &[Rule],
    literals: &[Vec<u8>],
) -> (Vec<Vec<u8>>, Vec<Vec<Option<usize>>>) {
    let mut patterns: Vec<Vec<u8>> = Vec::new();
    let mut owner: Vec<Vec<Option<usize>>> = Vec::new();
    let mut add =
        |pattern: &[u8], who: Option<usize>| match patterns.iter().position(|p| p == pattern) {
            Some(at) => owner[at].push(who),
            None => {
                patterns.push(pattern.to_vec());
                owner.push(vec![who]);
            }
        };
    for (i, rule) in rules.iter().enumerate() {
        for trigger in &rule.triggers {
            add(trigger.as_bytes(), Some(i));
        }
    }
    for literal in literals {
        add(literal, None);
    }
    (patterns, owner)
}

/// Overlapping or touching matches become one; its marker names the most
/// telling rule (a private key over anything, then the earliest match).
fn merge(mut found: Vec<Secret>) -> Vec<Secret> {
    found.sort_by_key(|s| (s.start, std::cmp::Reverse(s.end)));
    let mut merged: Vec<Secret> = Vec::with_capacity(found.len());
    for secret in found {
        match merged.last_mut() {
            Some(last) if secret.start < last.end => {
                last.end = last.end.max(secret.end);
                last.key = last.key.min(secret.key);
                if secret.rule == PRIVATE_KEY_RULE {
                    last.rule = secret.rule;
                }
            }
            _ => merged.push(secret),
        }
    }
    merged
}

/// `text` with each secret replaced by its marker; counts per rule.
fn replace(text: &[u8], secrets: &[Secret], counts: &mut Counts) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut last = 0;
    for secret in secrets {
        out.extend_from_slice(&text[last..secret.start]);
        out.extend_from_slice(b"[REDACTED:");
        out.extend_from_slice(secret.rule.as_bytes());
        out.push(b']');
        last = secret.end;
        *counts.entry(secret.rule.clone()).or_default() += 1;
    }
    out.extend_from_slice(&text[last..]);
    out
}

/// A private key block being removed line by line.
struct PemBlock {
    /// What stood before its `-----BEGIN` on its first line (without colour
    /// codes), which its other lines may carry too.
    prefix: Vec<u8>,
    /// Whether armour headers may still come: only right after
    /// `-----BEGIN`, before the first line of base64 or a blank line.
    headers: bool,
    /// Whether a line of base64 came: a short one may follow (the last).
    body: bool,
    /// How long the last line of base64 was: the next ones are as long.
    width: usize,
    /// Whether a line of the key started with the prefix as it was: then
    /// the lines without it are another source's.
    exact: bool,
    /// Lines of another source since the last line of the key.
    foreign: usize,
}

/// What a line leaves for the lines after it.
#[derive(Default)]
struct Carry {
    /// A private key block being removed.
    pem: Option<PemBlock>,
    /// The line named a variable that holds a secret, as Kubernetes' YAML,
    /// pretty-printed JSON and Terraform's plans do (`- name: DB_PASSWORD`,
    /// `"name": "API_TOKEN",`, `+ name = "X_SECRET"`): its value is on the
    /// next line.
    secret_named: Option<Named>,
}

/// Where a line named a secret's variable (see [`secret_name_entry`]).
struct Named {
    /// What stood before the entry (a source's prefix), as
    /// [`bare_prefix`] gives it.
    prefix: Vec<u8>,
    /// The column of the `name` key: a `value` key is the entry's when it
    /// stands in the same column (not a key of a mapping inside).
    column: usize,
}

/// The rule of a name/value pair, also over two lines.
const ENV_VALUE_RULE: &str = "env-value";

/// The rule of a kubeconfig's `token:`, which error messages write too
/// (containerd's `failed to fetch oauth token: unexpected status: 429`):
/// a value of lowercase letters alone is a word of theirs. A token of 8 or
/// more random letters and digits is all lowercase letters once in
/// thousands, and real ones are longer.
const KUBECONFIG_RULE: &str = "kubeconfig";

/// An entry that names a secret's variable and ends its line
/// (`- name: DB_PASSWORD`, `"name": "API_TOKEN",`), without colour codes.
fn secret_name_entry(line: &[u8]) -> Option<Named> {
    static ENTRY: OnceLock<Regex> = OnceLock::new();
    // Cheap first: most lines with a trigger name nothing.
    memmem(line, b"ame")?;
    let entry = ENTRY.get_or_init(|| {
        Regex::new(concat!(
            r#"^(?P<prefix>.*?)(?:^|\s)(?:[-+]\s+)?(?P<key>["']?(?i:name)["']?)\s*[:=]\s*["']?"#,
            secret_variable_name!(),
            r#"["']?\s*,?\s*$"#
        ))
        .expect("the name entry's pattern compiles")
    });
    let plain = without_escapes(line).0;
    let caps = entry.captures(&plain)?;
    Some(Named {
        prefix: bare_prefix(&caps["prefix"]),
        column: caps.name("key")?.start(),
    })
}

/// Where a pair's value that the rule found at `start..end` ends: a value
/// in quotes (`"p,ss w'rd"`) runs to its closing quote, or to the line's end.
fn quoted_value_end(text: &[u8], start: usize, end: usize) -> usize {
    match start.checked_sub(1).map(|at| (text[at], at)) {
        Some((quote @ (b'"' | b'\''), at)) => closing_quote(text, quote, at, start),
        _ => end,
    }
}

/// Where the value that `quote` at `at` opens ends (searching from `from`):
/// at the next quote of its kind, `\"` when it was opened by `\"` (JSON
/// escaped once more), or at the line's end.
fn closing_quote(text: &[u8], quote: u8, at: usize, from: usize) -> usize {
    let escaped = at >= 1 && text[at - 1] == b'\\';
    let mut from = from;
    while let Some(i) = memchr::memchr(quote, &text[from..]).map(|i| from + i) {
        let backslash = i > 0 && text[i - 1] == b'\\';
        match (escaped, backslash) {
            (true, true) => return i - 1,
            (false, false) => return i,
            _ => from = i + 1,
        }
    }
    text.len()
}

/// A line's prefix as two lines of one source share it: without its
/// blanks and digits (a later timestamp).
fn bare_prefix(prefix: &[u8]) -> Vec<u8> {
    prefix
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace() && !b.is_ascii_digit())
        .collect()
}

/// Where the value of the `value` entry on `line` is, if the line holds
/// that entry of what the line before `named`: up to the closing quote of a
/// quoted one, else to the line's end (without a trailing comma). Not a
/// block scalar (`value: |`), whose lines are not known to end.
fn named_value(line: &[u8], named: &Named) -> Option<std::ops::Range<usize>> {
    static ENTRY: OnceLock<Regex> = OnceLock::new();
    memmem(line, b"alue")?;
    let entry = ENTRY.get_or_init(|| {
        Regex::new(
            r#"^(?P<prefix>.*?)(?:^|\s)(?:[-+]\s+)?(?P<key>["']?(?i:value)["']?)\s*[:=][ \t]*(?P<value>.*?)\s*,?\s*$"#,
        )
        .expect("the value entry's pattern compiles")
    });
    let (plain, at) = without_escapes(line);
    let caps = entry.captures(&plain)?;
    if caps.name("key")?.start() != named.column || bare_prefix(&caps["prefix"]) != named.prefix {
        return None;
    }
    let value = caps.name("value")?;
    let text = value.as_bytes();
    let (start, end) = match text.first()? {
        b'|' | b'>' => return None,
        &quote @ (b'"' | b'\'') => {
            let close = text[1..]
                .iter()
                .rposition(|&b| b == quote)
                .map_or(text.len(), |i| i + 1);
            if close <= 1 {
                return None;
            }
            (value.start() + 1, value.start() + close)
        }
        _ => (value.start(), value.end()),
    };
    // Back to the line with its colour codes.
    Some(at[start]..at[end - 1] + 1)
}

/// How many lines of another source may come between two of a key's.
const FOREIGN_LINES: usize = 8;

/// The names of the headers of a PEM block (RFC 1421: an encrypted key's)
/// and of PGP armour (RFC 4880), whose values may hold blanks. Others
/// (notary's `role: root`, `gun: …`) are a key's when their value has none:
/// `Error: unable to parse key` after a mention of a key is not one.
const PEM_HEADERS: [&[u8]; 8] = [
    b"Proc-Type",
    b"DEK-Info",
    b"Content-Domain",
    b"Version",
    b"Comment",
    b"Hash",
    b"Charset",
    b"MessageID",
];

/// What a line of a PEM block holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PemLine {
    /// Nothing but its prefix.
    Blank,
    /// `Proc-Type: 4,ENCRYPTED`, `DEK-Info: …`, PGP's `Version: …`.
    Header,
    Base64,
    /// The `-----END …-----` marker.
    End,
}

/// Whether `line` (without colour codes) comes from where the key's lines
/// come from: it starts with the same prefix, or with the same fields but
/// for their digits (a later timestamp, even of another width), or it is a
/// JSON record with the key's field (`"msg":"`).
fn same_source(line: &[u8], block: &PemBlock) -> bool {
    let prefix = &block.prefix;
    if line.starts_with(prefix) {
        return true;
    }
    if prefix.last().is_some_and(u8::is_ascii_whitespace) {
        let shape = |field: &[u8]| {
            let mut shape = Vec::with_capacity(field.len());
            for &b in field {
                let b = if b.is_ascii_digit() { b'0' } else { b };
                if !(b == b'0' && shape.last() == Some(&b'0')) {
                    shape.push(b);
                }
            }
            shape
        };
        let fields = |text: &[u8]| -> Vec<Vec<u8>> {
            text.split(u8::is_ascii_whitespace)
                .filter(|f| !f.is_empty())
                .map(shape)
                .collect()
        };
        let ours = fields(prefix);
        return fields(line).get(..ours.len()) == Some(&ours[..]);
    }
    json_field(prefix).is_some_and(|field| memmem(line, field).is_some())
}

/// The JSON field a prefix ends in (`"msg":"` of `{"time":"…","msg":"`).
fn json_field(prefix: &[u8]) -> Option<&[u8]> {
    if prefix.last() != Some(&b'"') {
        return None;
    }
    let name = prefix.iter().rposition(|&b| b == b',' || b == b'{')?;
    Some(&prefix[name + 1..])
}

/// [`pem_material`] on a line that may hold colour codes: they are not
/// part of the prefix, and stay out of the range unless inside it.
fn pem_material_coloured(
    line: &[u8],
    block: &PemBlock,
    next: Option<&[u8]>,
) -> Option<(std::ops::Range<usize>, PemLine)> {
    if memchr::memchr(0x1b, line).is_none() {
        return pem_material(line, block, next);
    }
    let (plain, at) = without_escapes(line);
    match pem_material(&plain, block, next)? {
        (key, kind) if key.is_empty() => Some((line.len()..line.len(), kind)),
        (key, kind) => Some((at[key.start]..at[key.end - 1] + 1, kind)),
    }
}

/// Where the key material is on a line of a PEM block, and what it is.
/// An `-----END` marker ends the block wherever it stands. Otherwise the
/// line's own text starts after the block's prefix: the same bytes, or as
/// many blank-separated fields (a timestamp that changed, even in width),
/// or at its last field (the prefix named the key: `key: -----BEGIN …`),
/// or at its start; the first of those that finds key material wins. The
/// base64 may be in a JSON string (`"msg":"MIIE…"`, a record per line).
/// `None`: not key material, so the block was only mentioned, or this line
/// is another source's.
fn pem_material(
    line: &[u8],
    block: &PemBlock,
    next: Option<&[u8]>,
) -> Option<(std::ops::Range<usize>, PemLine)> {
    if let Some(end) = memmem(line, b"-----END ") {
        let close = memmem(&line[end + 9..], b"-----").map_or(line.len(), |i| end + 9 + i + 5);
        // A certificate's end is not a key's.
        return memmem(&line[end..close], b"PRIVATE KEY").map(|_| (end..close, PemLine::End));
    }
    let prefix = &block.prefix;
    let fields = |text: &[u8]| {
        text.split(u8::is_ascii_whitespace)
            .filter(|f| !f.is_empty())
            .count()
    };
    let mut starts = Vec::with_capacity(4);
    if line.starts_with(prefix) {
        starts.push(prefix.len());
    }
    if prefix.last().is_some_and(u8::is_ascii_whitespace) {
        starts.extend(after_fields(line, fields(prefix)));
    }
    // A JSON record whose fields before the key's changed (a timestamp):
    // the key's field by its name (`"msg":"`).
    if let Some(field) = json_field(prefix)
        && let Some(at) = memmem(line, field)
    {
        starts.push(at + field.len());
    }
    starts.extend(
        line.trim_ascii_end()
            .iter()
            .rposition(u8::is_ascii_whitespace)
            .map(|i| i + 1),
    );
    starts.push(0);
    let mut blank = None;
    for at in starts {
        match pem_material_at(line, at, block, next) {
            // Blank only as the prefix alone (maybe with other digits), or
            // an empty line: not a line with as many words as the prefix
            // (`-----BEGIN` of another key).
            Some((range, PemLine::Blank))
                if line[..at] == prefix[..]
                    || line.trim_ascii().is_empty()
                    || same_source(line, block) =>
            {
                blank = blank.or(Some((range, PemLine::Blank)));
            }
            Some((_, PemLine::Blank)) => {}
            Some(found) => return Some(found),
            None => {}
        }
    }
    blank
}

/// Where `line`'s text starts after its first `count` blank-separated fields.
fn after_fields(line: &[u8], count: usize) -> Option<usize> {
    let mut at = 0;
    for _ in 0..count {
        at += line[at..]
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
        let field = line[at..]
            .iter()
            .take_while(|b| !b.is_ascii_whitespace())
            .count();
        if field == 0 {
            return None;
        }
        at += field;
    }
    Some(at)
}

/// The key material of `line` from `at` on.
///
/// A header (`Name: value`) counts right after `-----BEGIN` only: by its
/// RFC name, or with a value without blanks (notary's `role: root`), or
/// when the next line goes on with the key (PGP's free `Note: …`); not
/// `Error: unable to parse key` after a mere mention of a key.
///
/// Base64 counts when it mixes capitals, small letters and digits (or `+`
/// `/`), as a key's does and a hex digest or a path does not, and is as
/// long as a key's lines (40 or more: every key type writes 64 or 70); or
/// when it has both capitals and small letters and is as long as the line
/// before it, or starts a run of lines as long (a key wrapped narrower). It counts too when padded (`…==`, a PGP checksum
/// `=Ab1c`), and as a body's short last line, with the end marker or the
/// checksum after it (when the next line is not yet read: after other
/// lines of base64). So the words after a block that never ends are not
/// taken for one.
fn pem_material_at(
    line: &[u8],
    at: usize,
    block: &PemBlock,
    next: Option<&[u8]>,
) -> Option<(std::ops::Range<usize>, PemLine)> {
    let mut start = at
        + line[at..]
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
    let rest = line[start..].trim_ascii_end();
    if rest.is_empty() {
        return Some((start..start, PemLine::Blank));
    }
    if block.headers
        && let Some((name, value)) = pem_header(rest)
        && (PEM_HEADERS.contains(&name)
            || !value.contains(&b' ')
            || next.is_some_and(|next| goes_on_with_a_key(next, &block.prefix)))
    {
        return Some((start..start + rest.len(), PemLine::Header));
    }
    let rest = match rest.strip_prefix(b"\"") {
        Some(quoted) => {
            start += 1;
            quoted
        }
        None => rest,
    };
    let run = &rest[..base64_run(rest)];
    let before_end = next.map(|next| {
        memmem(next, b"-----END ").is_some()
            || next
                .split(|b| b.is_ascii_whitespace() || *b == b'"')
                .any(|f| f.len() > 1 && f[0] == b'=')
    });
    let as_wide_as_next = || {
        next.and_then(|next| next.trim_ascii().rsplit(u8::is_ascii_whitespace).next())
            .is_some_and(|field| {
                base64_run(field.strip_prefix(b"\"").unwrap_or(field)) == run.len()
            })
    };
    // (A line of a wrapped key may lack digits: both cases must be there.)
    let keylike = (run.len() >= 40 && is_mixed_base64(run))
        || (run.len() >= 16
            && has_both_cases(run)
            && (run.len() == block.width || as_wide_as_next()));
    let telling = keylike
        || (run.len() > 1 && (run.ends_with(b"=") || run.starts_with(b"=")))
        || (!run.is_empty() && before_end.unwrap_or(block.body));
    let ends_well = run.len() == rest.len() || matches!(rest[run.len()], b'"' | b'\\');
    (telling && ends_well).then_some((start..start + run.len(), PemLine::Base64))
}

/// A PEM header's name and value: `Name: value`, the name a word of
/// letters, digits and `-` (not `https://…`, `localhost:8443`, `SHA256:…`).
fn pem_header(text: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = memchr::memchr(b':', text)?;
    let (name, value) = (&text[..colon], &text[colon + 1..]);
    let named = name.first().is_some_and(u8::is_ascii_alphabetic)
        && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-');
    (named && (value.is_empty() || value[0] == b' ')).then(|| (name, value.trim_ascii()))
}

/// Whether `next` goes on with a key's armour: blank, a header of an RFC
/// name, or a line of a key's base64 (behind the key's prefix, if any).
fn goes_on_with_a_key(next: &[u8], prefix: &[u8]) -> bool {
    let text = next.strip_prefix(prefix).unwrap_or(next).trim_ascii();
    let last = text.rsplit(u8::is_ascii_whitespace).next().unwrap_or(text);
    text.is_empty()
        || pem_header(text).is_some_and(|(name, _)| PEM_HEADERS.contains(&name))
        || (base64_run(last) == last.len() && last.len() >= 40 && is_mixed_base64(last))
}

/// How many bytes of base64's alphabet `text` starts with.
fn base64_run(text: &[u8]) -> usize {
    text.iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
        .count()
}

/// Whether `run` mixes capitals, small letters, and digits or `+` `/`.
fn is_mixed_base64(run: &[u8]) -> bool {
    has_both_cases(run)
        && run
            .iter()
            .any(|&b| b.is_ascii_digit() || b == b'+' || b == b'/')
}

fn has_both_cases(run: &[u8]) -> bool {
    run.iter().any(u8::is_ascii_uppercase) && run.iter().any(u8::is_ascii_lowercase)
}

fn memmem(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

fn split_ending(line: &[u8]) -> (&[u8], &[u8]) {
    let cut = if line.ends_with(b"\r\n") {
        2
    } else if line.ends_with(b"\n") {
        1
    } else {
        0
    };
    line.split_at(line.len() - cut)
}

/// The manifest's account of redaction for the whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RedactionInfo {
    pub enabled: bool,
    pub rules: Vec<String>,
    /// Replacements per rule over all files.
    pub replacements: Counts,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// They are compiled only when a line needs them: each must compile.
    #[test]
    fn every_builtin_rule_compiles() {
        for rule in builtin_rules() {
            assert!(
                rule.regex.get().is_none(),
                "{} compiled before use",
                rule.name
            );
            if let Err(e) = Regex::new(&rule.pattern) {
                panic!("{}: {e}", rule.name);
            }
        }
    }

    #[test]
    fn alike_builtin_triggers_share_a_bucket_and_unlike_ones_do_not() {
        let (patterns, _) = literal_patterns(&builtin_rules(), &[]);
        let count = crate::literal_buckets::teddy_buckets_for(patterns.len());
        let buckets = crate::literal_buckets::tests::teddy_buckets(&patterns, count);
        let bucket = |p: &str| buckets[patterns.iter().position(|q| q == p.as_bytes()).unwrap()];
        assert_eq!(bucket("ghr_"), bucket("ghs_"));
        assert_eq!(bucket("pi_key"), bucket("pikey"));
        assert_ne!(bucket("ghs_"), bucket(" -p"));
    }

    /// Every log position the literal search checks costs time. On the
    /// fixture logs, the built-in triggers in rule order take 0.023 checks
    /// per byte with 16 buckets, in the order made for them 0.0049. (Cut
    /// into 16 runs of the sorted triggers, the order before, the 50
    /// triggers of then took 0.0062.) With 8 buckets: 0.084 in rule order,
    /// 0.0111 in the order made for 8.
    #[test]
    fn the_literal_search_checks_few_positions_of_ordinary_logs() {
        use crate::literal_buckets::tests::candidates_per_byte;
        let mut logs = Vec::new();
        let mut folders =
            vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(folder).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    folders.push(path);
                } else if path.extension().is_some_and(|e| e == "log") {
                    logs.extend(std::fs::read(path).unwrap());
                }
            }
        }
        assert!(logs.len() > 50_000, "{}", logs.len());
        let (given, _) = distinct_patterns(&builtin_rules(), &[]);
        // Teddy has 16 buckets with AVX2, 8 on ARM (Apple's) and older x86.
        for (count, most) in [(16, 0.005), (8, 0.012)] {
            let (ordered, _) = crate::literal_buckets::order_in_buckets(
                given.clone(),
                vec![(); given.len()],
                count,
            );
            let ordered = candidates_per_byte(&ordered, &logs, count);
            let given = candidates_per_byte(&given, &logs, count);
            assert!(
                ordered < most,
                "{ordered} checks per byte in {count} buckets (in rule order: {given})"
            );
        }
    }

    #[test]
    fn builtin_triggers_leave_room_for_the_users_literals() {
        let (patterns, _) = literal_patterns(&builtin_rules(), &[]);
        // The vectorised literal search takes at most 64 patterns: at
        // least 7 are left for the user's literals (`--mask-env`: one per
        // variable, or up to four when its value needs escaping).
        assert!(patterns.len() <= 57, "{}", patterns.len());
    }

    /// Reads a slice a few bytes at a time, as a pipe or a slow disk may.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.0.len()).min(4093);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn what_is_in_memory_is_redacted_as_a_stream_of_it_would_be() {
        let redactor = Redactor::new(builtin_rules(), vec!["hunter2-literal".into()]);
        let key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
        let mut long_line = "x".repeat(MAX_LINE - 20);
        long_line.push_str(" password=across-the-piece-boundary tail\n");
        let inputs = [
            String::new(),
            "no secret at all\n".to_string(),
            "token=ghp_0123456789abcdefghijABCDEFGHIJ012345 and hunter2-literal".to_string(),
            format!("before\n{key}after password=x1\r\n"),
            long_line,
        ];
        for input in inputs {
            let mut streamed = Vec::new();
            let counts = redactor
                .redact_stream(&mut Trickle(input.as_bytes()), &mut streamed)
                .unwrap();
            assert_eq!(redactor.redact_bytes(input.as_bytes()), (streamed, counts));
        }
        // The cases above do redact something.
        let (redacted, counts) = redactor.redact_bytes(format!("{key}password=x1\n").as_bytes());
        assert!(!String::from_utf8_lossy(&redacted).contains("b3BlbnNzaC1rZXktdjEAAAAA"));
        assert!(counts.len() >= 2, "{counts:?}");
    }
}
