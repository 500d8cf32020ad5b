//! What to collect: rdd service instances (a name, a log dir, a Lima home) and
//! extra include globs, from command-line flags or a `logkeep.toml` file.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::names::{check_component, check_folder_name};
use crate::problem::Problem;
use crate::sanitize::display_path;

/// One rdd service instance. Either folder may be absent on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub name: String,
    pub log_dir: Option<PathBuf>,
    pub lima_home: Option<PathBuf>,
}

/// Extra files: every regular file matching `pattern`, placed in the archive
/// under `into/`, keeping its path relative to the glob's fixed prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    pub pattern: String,
    pub into: String,
}

/// The folder that include globs without `into` land in.
pub const DEFAULT_INCLUDE_FOLDER: &str = "extra";

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Sources {
    pub instances: Vec<Instance>,
    pub includes: Vec<Include>,
    /// Redaction rules of the user: (name, regex).
    pub redact_rules: Vec<(String, String)>,
    /// Environment variables whose values are masked wherever they appear.
    pub mask_env: Vec<String>,
    /// Instances whose folders rdd is asked for.
    pub rdd: Option<RddQuery>,
    /// What the config file asked for but cannot be had here, such as an
    /// include glob naming a variable this machine does not set.
    pub problems: Vec<Problem>,
    /// What the run writes (its output and the manifest's copy): never
    /// collected, though an include glob reach them. An earlier output that
    /// `--force` replaces would be packed into its successor.
    pub written: Vec<PathBuf>,
}

/// Instances found by asking rdd (see `discover`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RddQuery {
    /// The rdd binary (`rdd`, `rdd.exe`, or a path).
    pub path: PathBuf,
    pub names: Vec<String>,
    /// A command printing more names, one a line.
    pub instances_from: Option<String>,
}

/// The config file, as written by users.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default, rename = "instance")]
    instances: Vec<ConfigInstance>,
    #[serde(default, rename = "include")]
    includes: Vec<ConfigInclude>,
    #[serde(default)]
    redact: ConfigRedact,
    rdd: Option<ConfigRdd>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigRdd {
    /// The rdd binary; a bare name is looked up on PATH.
    path: String,
    #[serde(default)]
    instances: Vec<String>,
    instances_from: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigRedact {
    #[serde(default)]
    rules: Vec<ConfigRule>,
    #[serde(default)]
    mask_env: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigRule {
    name: String,
    regex: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigInstance {
    name: String,
    log_dir: Option<String>,
    lima_home: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigInclude {
    glob: String,
    into: Option<String>,
}

impl Sources {
    /// Read a config file. Relative paths in it are relative to the file's own
    /// folder; `~`, `$VAR` and `${VAR}` are expanded.
    pub fn from_config_file(path: &Path) -> Result<Sources> {
        let text = read_config(path)?;
        let config: ConfigFile = toml::from_str(&text).map_err(|e| {
            Error::new(format!(
                "config file {} is not valid: {e}",
                display_path(path)
            ))
            .with_hint("see the config file section of the README for the expected keys")
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let in_config = |e: Error| Error {
            message: format!("{} (in {})", e.message, display_path(path)),
            hint: e.hint,
        };
        let mut sources = Sources::default();
        for instance in config.instances {
            let resolve = |value: Option<String>| -> Result<Option<PathBuf>> {
                value.map(|v| expand_path(&v, base)).transpose()
            };
            sources.instances.push(Instance {
                log_dir: resolve(instance.log_dir).map_err(in_config)?,
                lima_home: resolve(instance.lima_home).map_err(in_config)?,
                name: instance.name,
            });
        }
        for include in config.includes {
            // `${RUNNER_TEMP}/_diag/*` on a developer's machine: the other
            // sources are still worth collecting.
            let pattern = match expand_path(&include.glob, base) {
                Ok(pattern) => pattern,
                Err(e) => {
                    sources.problems.push(Problem::new(
                        path,
                        format!("include {:?} skipped: {}", include.glob, e.message),
                    ));
                    continue;
                }
            };
            sources.includes.push(Include {
                pattern: pattern.to_string_lossy().into_owned(),
                into: include
                    .into
                    .unwrap_or_else(|| DEFAULT_INCLUDE_FOLDER.to_string()),
            });
        }
        sources.redact_rules = config
            .redact
            .rules
            .into_iter()
            .map(|r| (r.name, r.regex))
            .collect();
        if let Some(rdd) = config.rdd {
            // A bare name (`rdd`, `rdd.exe`) is found on PATH; a path is relative to this file.
            let binary = if rdd.path.contains(['/', '\\']) {
                expand_path(&rdd.path, base).map_err(in_config)?
            } else {
                PathBuf::from(rdd.path)
            };
            sources.rdd = Some(RddQuery {
                path: binary,
                names: rdd.instances,
                instances_from: rdd.instances_from,
            });
        }
        sources.mask_env = config.redact.mask_env;
        sources.validate().map_err(in_config)?;
        Ok(sources)
    }

    /// Check what the archive layout depends on: names that are plain folder
    /// names, used once, and an instance that points at something; and that
    /// every redaction rule compiles.
    pub fn validate(&self) -> Result<()> {
        for (name, regex) in &self.redact_rules {
            check_component("redaction rule", name).map_err(Error::new)?;
            crate::redact::Rule::new(name, &[], regex).map_err(|e| {
                Error::new(e)
                    .with_hint("the regex syntax is Rust's regex crate (https://docs.rs/regex)")
            })?;
        }
        let mut seen = BTreeSet::new();
        for instance in &self.instances {
            check_folder_name("instance", &instance.name).map_err(Error::new)?;
            if instance.name == "manifest.json" {
                return Err(Error::new(
                    "instance name \"manifest.json\" is reserved for the manifest",
                ));
            }
            if !seen.insert(instance.name.as_str()) {
                return Err(
                    Error::new(format!("instance {:?} is listed twice", instance.name))
                        .with_hint("give each instance once, with both its folders"),
                );
            }
            if instance.log_dir.is_none() && instance.lima_home.is_none() {
                return Err(Error::new(format!(
                    "instance {:?} has neither a log dir nor a Lima home",
                    instance.name
                ))
                .with_hint("give log_dir and/or lima_home (--log-dir / --lima-home)"));
            }
        }
        for include in &self.includes {
            if include.pattern.trim().is_empty() {
                return Err(Error::new("an include glob is empty")
                    .with_hint("give the files to add, such as --include 'ci/**/*.log'"));
            }
            check_include_folder(&include.into)?;
            if include.into == crate::manifest::MANIFEST_NAME {
                return Err(Error::new(
                    "include folder \"manifest.json\" is reserved for the manifest",
                ));
            }
            if seen.contains(include.into.split('/').next().unwrap_or_default()) {
                return Err(Error::new(format!(
                    "include folder {:?} would mix extra files into the folder of the instance of that name",
                    include.into
                )));
            }
            globset::Glob::new(&include.pattern).map_err(|e| {
                Error::new(format!(
                    "include glob {:?} is not valid: {e}",
                    include.pattern
                ))
            })?;
        }
        Ok(())
    }
}

/// The archive folder of an include: plain names separated by `/`. A value
/// refused is named whole, as the user wrote it, with what is allowed.
fn check_include_folder(into: &str) -> Result<()> {
    if into
        .split('/')
        .all(|part| check_folder_name("include folder", part).is_ok())
    {
        return Ok(());
    }
    Err(Error::new(format!(
        "include folder {into:?} (--include-into, or into in an [[include]]) must be a relative folder: plain names separated by '/', such as _diag or ci/_diag"
    ))
    .with_hint(
        "no name in it may be empty, '.' or '..', hold '\\', control characters or a character Windows does not allow (<>:\"|?*), end in a dot or a space, or name a Windows device such as nul or con (a leading, trailing or doubled '/' makes an empty name)",
    ))
}

/// Read the config, refusing what is not a file: reading a FIFO would block.
fn read_config(path: &Path) -> Result<String> {
    let meta = fs::metadata(path).map_err(|e| Error::io("read config file", path, &e))?;
    if !meta.is_file() {
        return Err(Error::new(format!(
            "config file {} is not a regular file",
            display_path(path)
        ))
        .with_hint("name a logkeep.toml file"));
    }
    fs::read_to_string(path).map_err(|e| {
        Error::io("read config file", path, &e).with_hint("the config file must be UTF-8 TOML")
    })
}

/// Expand `~` and environment variables, then make relative paths relative to `base`.
fn expand_path(value: &str, base: &Path) -> Result<PathBuf> {
    let expanded = shellexpand::full(value).map_err(|e| {
        Error::new(format!("cannot expand {value:?}: {e}"))
            .with_hint("set the variable, or write the path out")
    })?;
    let path = base.join(expanded.as_ref());
    // Absolute, so the manifest says where each file really came from.
    Ok(std::path::absolute(&path).unwrap_or(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_instances_and_includes_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("logkeep.toml");
        // Absolute on every system (a Windows one has a drive); a TOML
        // literal string, so that its backslashes stay as they are.
        let absolute = dir.path().join("elsewhere").join("lima");
        fs::write(
            &file,
            format!(
                r#"
[[instance]]
name = "a"
log_dir = "logs/a"
lima_home = '{}'

[[instance]]
name = "b"
lima_home = "b/lima"

[[include]]
glob = "_diag/*"
into = "_diag"
"#,
                absolute.display()
            ),
        )
        .unwrap();
        let sources = Sources::from_config_file(&file).unwrap();
        assert_eq!(sources.instances.len(), 2);
        assert_eq!(
            sources.instances[0].log_dir,
            Some(dir.path().join("logs/a"))
        );
        assert_eq!(sources.instances[0].lima_home, Some(absolute));
        assert_eq!(sources.instances[1].log_dir, None);
        assert_eq!(sources.includes[0].into, "_diag");
        let pattern = &sources.includes[0].pattern;
        // Joined to the config's folder with the system's separator.
        let relative = if cfg!(windows) { r"_diag\*" } else { "_diag/*" };
        assert!(pattern.ends_with(relative), "{pattern}");
    }

    #[test]
    fn rejects_unknown_keys_and_bad_names() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        fs::write(&file, "[[instance]]\nname = \"a\"\nlogdir = \"x\"\n").unwrap();
        let err = Sources::from_config_file(&file).unwrap_err();
        assert!(err.message.contains("logdir"), "{}", err.message);
        assert!(err.message.contains("bad.toml"), "{}", err.message);

        fs::write(&file, "[[instance]]\nname = \"../x\"\nlog_dir = \"x\"\n").unwrap();
        assert!(Sources::from_config_file(&file).is_err());
    }
}
