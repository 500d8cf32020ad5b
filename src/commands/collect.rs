use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use serde::Serialize;
use tempfile::NamedTempFile;

use super::{Report, print_json};
use crate::archive::Format;
use crate::discover::{discover, instances_from};
use crate::error::{Error, Result};
use crate::exit_codes::ExitStatus;
use crate::interrupt::{self, Remembered};
use crate::layout::{LateArrivals, Plan, PlannedFile, Sizes, late_arrivals, plan, plan_with};
use crate::manifest::{ArchiveInfo, Manifest};
use crate::output::PendingOutput;
use crate::pack::{PackOptions, add_manifest_and_finish, pack_files};
use crate::preserve::preserve;
use crate::problem::Problem;
use crate::redact::{Redactor, Rule, builtin_rules};
use crate::sanitize::display_path;
use crate::sources::Sources;

pub struct CollectOptions {
    pub sources: Sources,
    pub output: PathBuf,
    pub format: Format,
    pub level: Option<i32>,
    pub preserve: bool,
    pub even_if_running: bool,
    pub max_file_size: Option<u64>,
    /// Redact secrets (`--no-redact` turns it off).
    pub redact: bool,
    /// The loud override that lets secret files through.
    pub allow_secret_files: bool,
    /// Write GitHub Actions outputs, summary and annotations.
    pub github: bool,
    pub dry_run: bool,
    pub force: bool,
    pub manifest_out: Option<PathBuf>,
    pub report: Report,
}

pub fn run(mut options: CollectOptions) -> Result<ExitStatus> {
    keep_large_buffers_out_of_the_heap();
    options.sources.written = std::iter::once(options.output.clone())
        .chain(options.manifest_out.clone())
        .collect();
    let mut discovery_problems = std::mem::take(&mut options.sources.problems);
    discovery_problems.extend(discover_instances(
        &mut options.sources,
        options.report.quiet,
    )?);
    if let Some(implied) = Format::from_output_name(&options.output)
        && implied != options.format
        && !options.report.quiet
    {
        eprintln!(
            "warning: writing {} as {} although its name says {implied}",
            display_path(&options.output),
            options.format
        );
    }
    if options.dry_run {
        let mut plan = plan(&options.sources, options.allow_secret_files);
        plan.problems.splice(0..0, discovery_problems);
        print_plan(&plan, &options);
        return Ok(options.report.finish(&plan.problems, 0));
    }

    // Everything that can refuse the run is checked before anything moves.
    if let Some(copy) = &options.manifest_out
        && same_place(copy, &options.output)
    {
        return Err(Error::new(format!(
            "--manifest-out {} is the output itself",
            display_path(copy)
        ))
        .with_hint("name another file for the manifest's copy, such as rdd-logs.manifest.json"));
    }
    let (pending, writer) = PendingOutput::create(
        &options.output,
        options.format,
        options.level,
        options.force,
    )?;
    // Written under a temporary name beside it: a failed or interrupted run
    // leaves nothing.
    let manifest_copy = match &options.manifest_out {
        Some(path) if path.exists() && !options.force => {
            return Err(Error::new(format!(
                "manifest copy {} already exists",
                display_path(path)
            ))
            .with_hint("choose another name, or add --force to replace it"));
        }
        Some(path) => {
            crate::output::check_replaceable_manifest(path)?;
            Some((path, temporary_manifest_copy(path)?))
        }
        None => None,
    };

    let mut preserved = Vec::new();
    let mut problems = discovery_problems;
    if options.preserve {
        preserve_all(
            &options.sources,
            options.even_if_running,
            &mut preserved,
            &mut problems,
        );
    }
    // Packing measures the files as it goes (see `Sizes::Deferred`).
    let mut plan = plan_with(
        &options.sources,
        options.allow_secret_files,
        Sizes::Deferred,
    );
    problems.extend(plan.problems.iter().cloned());
    // The planned files wait in a temporary file while they are packed, so
    // memory stays the same whatever their number. Should that fail, they
    // stay in memory: nothing is lost, the run only takes more memory.
    let _ = plan.files.spool();

    let level = options.format.effective_level(options.level);
    let mut manifest = Manifest::new(
        &options.sources.instances,
        ArchiveInfo {
            format: options.format.name().to_string(),
            level,
        },
    );
    manifest.skipped = plan.skipped.clone();
    manifest.problems = problems;
    manifest.preserved = preserved;

    let (bar, written) = progress_bar(plan.files.len() as u64, options.report.quiet);
    let verbose = options.report.verbose;
    if verbose {
        for skipped in &plan.skipped {
            eprintln!(
                "skip {} ({})",
                skipped.source,
                skip_reason_name(skipped.reason)
            );
        }
    }
    let redactor = options
        .redact
        .then(|| build_redactor(&options.sources, options.report.quiet))
        .transpose()?;
    if let Some(redactor) = &redactor {
        manifest.redaction.enabled = true;
        manifest.redaction.rules = redactor.rule_names();
    }
    let not_as_planned = std::sync::Mutex::new(Vec::new());
    let pack_options = PackOptions {
        max_file_size: options.max_file_size,
        redactor: redactor.as_ref(),
        exclude_private_keys: !options.allow_secret_files,
        not_as_planned: Some(&not_as_planned),
    };
    let mut writer = writer;
    let mut progress = |file: &PlannedFile, bytes| {
        written.fetch_add(bytes, Ordering::Relaxed);
        bar.inc(1);
        if verbose {
            bar.suspend(|| {
                eprintln!(
                    "{} -> {}",
                    display_path(&file.source),
                    crate::sanitize::display_str(&file.path)
                )
            });
        }
    };
    pack_files(
        &plan.files,
        pack_options,
        &mut manifest,
        writer.as_mut(),
        &mut progress,
    )?;
    // A service that rotated its log meanwhile renamed the previous boot's
    // lines away from the name planned: they are packed too.
    let not_as_planned =
        std::mem::take(&mut *not_as_planned.lock().unwrap_or_else(|e| e.into_inner()));
    if let Some(LateArrivals {
        files: late,
        found_elsewhere,
    }) = late_arrivals(
        &options.sources,
        options.allow_secret_files,
        &plan,
        &not_as_planned,
    ) {
        bar.inc_length(late.len() as u64);
        let names: Vec<String> = late.iter().take(5).map(|f| f.path).collect();
        let more = match late.len() {
            n if n > names.len() => format!(", and {} more", n - names.len()),
            _ => String::new(),
        };
        bar.suspend(|| {
            if options.report.quiet {
                return;
            }
            eprintln!(
                "note: {} file(s) appeared while collecting (a log rotated, a VM's logs preserved), collected too: {}{more}",
                late.len(),
                crate::sanitize::display_str(&names.join(", "))
            )
        });
        pack_files(
            &late,
            pack_options,
            &mut manifest,
            writer.as_mut(),
            &mut progress,
        )?;
        // A file moved mid-run (its VM's folder preserved) was packed from
        // where it went: its "vanished" is no problem, nor a skip.
        let found: std::collections::HashSet<String> =
            found_elsewhere.iter().map(|p| display_path(p)).collect();
        manifest.problems.retain(|p| !found.contains(&p.path));
        manifest.skipped.retain(|s| !found.contains(&s.source));
    }
    add_manifest_and_finish(&mut manifest, writer)?;
    bar.finish_and_clear();
    pending.commit()?;
    if let Some((path, (mut temp, _on_interrupt))) = manifest_copy {
        // The archive is in place: a failed copy is a warning, not a failed run.
        let written = manifest.write_json(temp.as_file_mut()).and_then(|()| {
            crate::output::set_readable_mode(temp.path());
            let persisted = if options.force {
                temp.persist(path)
            } else {
                temp.persist_noclobber(path)
            };
            persisted.map(drop).map_err(|e| e.error)
        });
        if let Err(e) = written {
            manifest
                .problems
                .push(Problem::io(path, "write manifest copy", &e));
            // Recounted, so that the summary line and --strict see it.
            manifest.finish_totals();
        }
    }
    if options.github {
        crate::github::report(
            &manifest,
            &options.output,
            options.manifest_out.as_deref(),
            redactor.as_ref(),
        );
    }

    if options.report.json {
        print_json(&CollectSummary {
            output: display_path(&options.output),
            manifest: &manifest,
        });
    }
    let changed = manifest.files.altered();
    if !options.report.json {
        // What --strict counts, all on the line: altered files are not
        // problems, but they do make --strict exit 3.
        let t = &manifest.totals;
        let altered = match changed {
            0 => String::new(),
            n => format!(", {n} changed while read or cut"),
        };
        println!(
            "wrote {} ({}): {} files, {} bytes; {} skipped, {} problems{altered}",
            display_path(&options.output),
            options.format,
            t.files,
            t.bytes,
            t.skipped,
            t.problems
        );
    }
    if changed > 0 && !options.report.quiet && !options.report.json {
        eprintln!(
            "note: {changed} file(s) changed while read or were cut by --max-file-size: a changed file is archived as it was when opened, a cut one as its head and tail; the manifest says which"
        );
    }
    Ok(options.report.finish(&manifest.problems, changed))
}

#[derive(Serialize)]
struct CollectSummary<'a> {
    output: String,
    manifest: &'a Manifest,
}

/// Ask rdd for the folders of the instances named (by flags, the config, or
/// `--instances-from`). An instance whose query fails is a problem, not the end.
fn discover_instances(sources: &mut Sources, quiet: bool) -> Result<Vec<Problem>> {
    let Some(query) = sources.rdd.take() else {
        return Ok(Vec::new());
    };
    if let Some(warning) = crate::discover::timeout_warning().filter(|_| !quiet) {
        eprintln!("warning: {warning}");
    }
    let mut names = query.names;
    // A name that cannot be a folder is never asked of rdd: given by the
    // user it is an error, listed by a command a problem naming the command.
    for name in &names {
        crate::names::check_folder_name("instance", name).map_err(Error::new)?;
    }
    let mut problems = Vec::new();
    if let Some(command) = &query.instances_from {
        let listed = instances_from(command)?;
        if listed.is_empty() {
            problems.push(Problem::new(
                &query.path,
                format!(
                    "--instances-from `{command}` printed no instance names; only those given with --instance are collected"
                ),
            ));
        }
        if listed.is_empty() && names.is_empty() {
            return Err(Error::new(format!(
                "--instances-from: `{command}` printed no instance names"
            ))
            .with_hint(
                "run the command by hand; it must print one instance name a line (or give --instance NAME)",
            ));
        }
        let mut invalid = Vec::new();
        for name in listed {
            if let Err(message) = crate::names::check_folder_name("instance", &name) {
                invalid.push(message);
            } else if !names.contains(&name) {
                names.push(name);
            }
        }
        if names.is_empty()
            && let Some(first) = invalid.first()
        {
            return Err(Error::new(format!(
                "--instances-from: `{command}` printed no valid instance name: {first}"
            ))
            .with_hint("run the command by hand; it must print one instance name a line"));
        }
        problems.extend(invalid.into_iter().map(|message| {
            Problem::new(
                &query.path,
                format!("{message}; printed by --instances-from `{command}`; not collected"),
            )
        }));
    }
    if names.is_empty() {
        return Err(Error::new("--rdd needs instance names").with_hint(
            "give --instance NAME (repeat it) or --instances-from 'make -C bats bats-instances'",
        ));
    }
    let (instances, asked) = discover(&query.path, &names)?;
    problems.extend(asked);
    for instance in instances {
        if sources.instances.iter().any(|i| i.name == instance.name) {
            problems.push(Problem::new(
                &query.path,
                format!("instance {} is listed twice; collected once", instance.name),
            ));
        } else if instance.log_dir.is_none() && instance.lima_home.is_none() {
            problems.push(Problem::new(
                &query.path,
                format!(
                    "rdd gave no folders for instance {}; not collected",
                    instance.name
                ),
            ));
        } else {
            sources.instances.push(instance);
        }
    }
    Ok(problems)
}

/// The temporary file the manifest's copy is written to, beside `path`, and
/// the guard that has an interruption remove it. Both come into being at
/// once: an interruption never finds the file made but not registered.
fn temporary_manifest_copy(path: &Path) -> Result<(NamedTempFile, Remembered)> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    interrupt::exclusive(|| {
        let temp = tempfile::Builder::new()
            .prefix(crate::output::MANIFEST_COPY_PREFIX)
            .tempfile_in(parent)?;
        let on_interrupt = interrupt::remember(temp.path());
        Ok((temp, on_interrupt))
    })
    .map_err(|e: io::Error| {
        Error::io("create manifest copy in", parent, &e)
            .with_hint("the folder of --manifest-out must exist and be writable")
    })
}

/// Whether two paths name one file: their folders resolved (through links
/// and `..`), then their names compared.
fn same_place(a: &Path, b: &Path) -> bool {
    let resolve = |path: &Path| {
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let folder = std::fs::canonicalize(parent).or_else(|_| std::path::absolute(parent));
        folder.ok().zip(path.file_name()).map(|(f, n)| f.join(n))
    };
    resolve(a).is_some_and(|a| Some(a) == resolve(b))
}

/// The built-in rules, the user's rules, and the values of the environment
/// variables the user named (an unset or empty one is worth a warning,
/// unless the run is quiet).
fn build_redactor(sources: &Sources, quiet: bool) -> Result<Redactor> {
    let mut rules = builtin_rules();
    for (name, regex) in &sources.redact_rules {
        rules.push(Rule::new(name, &[], regex).map_err(Error::new)?);
    }
    let mut literals = Vec::new();
    for name in &sources.mask_env {
        match std::env::var(name) {
            Ok(value) if value.len() >= 4 => literals.extend(encoded_forms(value)),
            _ if quiet => {}
            _ => eprintln!(
                "warning: --mask-env {name}: the variable is unset or shorter than 4 characters; nothing to mask"
            ),
        }
    }
    Ok(Redactor::new(rules, literals))
}

/// A value to mask as logs may print it: as it is, inside a JSON string
/// (`"` and `\\` escaped), and percent-encoded in a URL or form (as a
/// password with `@`, `:` or `/` must be).
fn encoded_forms(value: String) -> Vec<String> {
    let json = serde_json::to_string(&value).unwrap_or_default();
    let json = json[1..json.len() - 1].to_string();
    let percent = |upper: bool| {
        let mut encoded = String::new();
        for b in value.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    encoded.push(b as char)
                }
                _ if upper => encoded.push_str(&format!("%{b:02X}")),
                _ => encoded.push_str(&format!("%{b:02x}")),
            }
        }
        encoded
    };
    let mut forms = vec![percent(true), percent(false), json, value];
    forms.sort();
    forms.dedup();
    forms
}

/// Preserve the VM logs of every instance that has both folders.
/// One instance that cannot be preserved is a problem; the others go on.
fn preserve_all(
    sources: &Sources,
    even_if_running: bool,
    preserved: &mut Vec<crate::preserve::Moved>,
    problems: &mut Vec<Problem>,
) {
    for instance in &sources.instances {
        match (&instance.lima_home, &instance.log_dir) {
            (Some(lima_home), Some(log_dir)) => match preserve(lima_home, log_dir, &[], even_if_running) {
                Ok(result) => {
                    preserved.extend(result.moved);
                    problems.extend(result.problems);
                }
                Err(e) => problems.push(Problem::new(lima_home, format!("{}; its VM logs are collected in place", e.message))),
            },
            (Some(lima_home), None) => problems.push(Problem::new(
                lima_home,
                format!("instance {} has no log dir to preserve its VM logs into; they are collected in place", instance.name),
            )),
            _ => {}
        }
    }
}

fn print_plan(plan: &Plan, options: &CollectOptions) {
    if options.report.json {
        print_json(&serde_json::json!({
            "output": display_path(&options.output),
            "format": options.format.name(),
            "files": plan.files,
            "skipped": plan.skipped,
            "problems": plan.problems,
        }));
        return;
    }
    // One buffered writer: a plan of 20,000 files is 20,000 lines. A closed
    // stdout (`| head`) ends the listing, quietly.
    let mut out = io::BufWriter::new(io::stdout().lock());
    let _ = write_plan(plan, options, &mut out).and_then(|()| out.flush());
}

fn write_plan(plan: &Plan, options: &CollectOptions, out: &mut impl Write) -> io::Result<()> {
    for file in plan.files.iter() {
        writeln!(
            out,
            "{} -> {}",
            display_path(&file.source),
            crate::sanitize::display_str(&file.path)
        )?;
    }
    for skipped in &plan.skipped {
        writeln!(
            out,
            "skip {} ({})",
            skipped.source,
            skip_reason_name(skipped.reason)
        )?;
    }
    if options.preserve {
        writeln!(
            out,
            "note: --preserve would first move the logs of stopped VMs to <instance>/<vm>/; not simulated here"
        )?;
    }
    if fs::symlink_metadata(&options.output).is_ok() && !options.force {
        writeln!(
            out,
            "note: {} exists; the real run would refuse it without --force",
            display_path(&options.output)
        )?;
    }
    let folder = match options.output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !folder.is_dir() {
        writeln!(
            out,
            "note: {} is not a folder; the real run would fail (the output's folder must exist)",
            display_path(folder)
        )?;
    }
    writeln!(
        out,
        "{} files, {} bytes would be written to {} ({}); {} skipped",
        plan.files.len(),
        plan.total_planned_bytes().unwrap_or_default(),
        display_path(&options.output),
        options.format,
        plan.skipped.len()
    )
}

/// The reason as the manifest spells it (`socket`, `not-a-log`, …).
fn skip_reason_name(reason: crate::layout::SkipReason) -> String {
    serde_json::to_value(reason)
        .ok()
        .and_then(|r| r.as_str().map(str::to_string))
        .unwrap_or_else(|| "skipped".to_string())
}

/// A bar of the files written, which also shows the bytes they added and
/// the rate (read from the counter returned, when the bar is drawn).
/// Counted in files: the bytes to come are known only as each file is read.
/// No time left is shown: the files' sizes differ too much for one.
fn progress_bar(files: u64, quiet: bool) -> (ProgressBar, Arc<AtomicU64>) {
    // indicatif draws only when stderr is a terminal.
    let target = if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(Some(files), target);
    let written = Arc::new(AtomicU64::new(0));
    let shown = written.clone();
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} files, {written}") {
        bar.set_style(style.with_key(
            "written",
            move |state: &ProgressState, out: &mut dyn std::fmt::Write| {
                let bytes = shown.load(Ordering::Relaxed);
                let rate = bytes as f64 / state.elapsed().as_secs_f64().max(0.001);
                let _ = write!(out, "{} ({}/s)", HumanBytes(bytes), HumanBytes(rate as u64));
            },
        ));
    }
    (bar, written)
}

/// glibc serves allocations of 128 KiB and more with their own mappings, and
/// returns them to the system when freed; but once a large buffer is freed
/// (the plan's, after it is spooled) it raises that threshold, and the
/// compressors' 1 MiB blocks then come from heaps that keep their peak size.
/// Fixing the threshold keeps peak memory the same whatever the number of
/// files (the benchmark's 20,000 and 100,000 files: within 6%, every format).
fn keep_large_buffers_out_of_the_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tunable of the allocator, under its lock.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
