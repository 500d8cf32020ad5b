#!/usr/bin/env bash
# The action's one real step: preserve, collect and report, from the INPUT_*
# variables action.yml sets. Collection problems never fail the job unless
# INPUT_STRICT is true; they are annotations and lines in the job summary.
set -uo pipefail
logkeep=${LOGKEEP:-logkeep}
# GitHub compares the inputs in action.yml without case: so does this.
is_true() { [ "$(printf '%s' "${1:-}" | tr '[:upper:]' '[:lower:]')" = true ]; }
# A format is a file extension: read without case too (TAR.GZ is tar.gz).
format=$(printf '%s' "${INPUT_FORMAT:-tar.zst}" | tr '[:upper:]' '[:lower:]')
# Two matrix jobs uploading one name fail with 409: the default is unique.
name=${INPUT_NAME:-}
if [ -z "$name" ]; then
  name="rdd-logs-${GITHUB_JOB:-job}-${RUNNER_OS:-os}-${RUNNER_ARCH:-arch}-${GITHUB_RUN_ATTEMPT:-1}-$(date +%s)$RANDOM"
fi
name=$(printf '%s' "$name" | tr -c 'A-Za-z0-9._-' '_')
# A re-run of a failed job uploads again: under the first attempt's name it
# would fail with 409, and overwriting would lose the first attempt's logs.
attempt=${GITHUB_RUN_ATTEMPT:-1}
if [ -n "${INPUT_NAME:-}" ] && [ "$attempt" != 1 ]; then
  name="$name-attempt$attempt"
fi
out_dir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/logkeep"
mkdir -p "$out_dir"

args=(collect --github --force)
[ -n "${INPUT_CONFIG:-}" ] && args+=(--config "$INPUT_CONFIG")
# A config that names its rdd ([rdd] path) keeps it unless the rdd input is
# set: --rdd would replace it, and the instances join the config's own.
config_names_rdd() {
  [ -n "${INPUT_CONFIG:-}" ] &&
    grep -Eq '^[[:space:]]*(\[[[:space:]]*rdd[[:space:]]*\]|rdd[[:space:]]*[.=])' "$INPUT_CONFIG" 2>/dev/null
}
if [ -n "${INPUT_INSTANCES:-}" ]; then
  if [ -n "${INPUT_RDD:-}" ]; then
    args+=(--rdd "$INPUT_RDD")
  elif ! config_names_rdd; then
    args+=(--rdd rdd)
  fi
  # One a line, or several on a line (a folded YAML scalar): any blank separates.
  read -r -a instances <<< "$(printf '%s' "$INPUT_INSTANCES" | tr '\r\n\t' '   ')"
  for instance in ${instances[@]+"${instances[@]}"}; do
    args+=(--instance "$instance")
  done
fi
# One a line; blanks around a glob (or a line of blanks) are not part of it.
while IFS= read -r glob; do
  glob=${glob%$'\r'}
  glob=${glob#"${glob%%[![:blank:]]*}"}
  glob=${glob%"${glob##*[![:blank:]]}"}
  [ -n "$glob" ] && args+=(--include "$glob")
done <<< "${INPUT_INCLUDE:-}"
is_true "${INPUT_PRESERVE:-true}" && args+=(--preserve)
is_true "${INPUT_STRICT:-false}" && args+=(--strict)
if is_true "${INPUT_UPLOAD_FOLDER:-false}"; then
  output="$out_dir/$name"
  args+=(--format dir)
else
  output="$out_dir/$name.$format"
  args+=(--format "$format")
fi
args+=(-o "$output" --manifest-out "$out_dir/$name.manifest.json")
# More options, as on the command line: any blank separates them (a value
# with a blank cannot be given here; the config file takes those).
read -r -a more <<< "$(printf '%s' "${INPUT_ARGS:-}" | tr '\r\n\t' '   ')"
args+=(${more[@]+"${more[@]}"})

echo "name=$name" >> "${GITHUB_OUTPUT:-/dev/null}"

# The run page shows annotations and the summary, not this log: a failure
# says there what logkeep said (its `error:` line and hint), not only a code.
reason=
given="${INPUT_CONFIG:-}${INPUT_INSTANCES:-}${INPUT_INCLUDE:-}${INPUT_ARGS:-}"
if [ -z "${given//[[:space:]]/}" ]; then
  status=1
  reason="nothing to collect: set the action's config, instances or include input"
  echo "error: $reason" >&2
elif ! command -v "$logkeep" >/dev/null 2>&1; then
  status=127
  reason="no logkeep binary: the action's install step could not find or build one (see its log); put logkeep on PATH, or make cargo available, before this step"
  echo "error: $reason" >&2
else
  # Named as logkeep names its own temporary files, so that an include glob
  # over the runner's temporary folder leaves it out.
  errors=$(mktemp "$out_dir/.stderr.logkeep-tmp-XXXXXX") || errors=/dev/null
  # logkeep's stderr goes to the log as it comes, and to a file for the reason.
  { "$logkeep" "${args[@]}" 2>&1 1>&3 3>&- | tee "$errors" >&2; } 3>&1
  status=${PIPESTATUS[0]}
  # From the first `error:` line to the next blank one, on one line.
  reason=$(sed -n '/^error: /,/^$/p' "$errors" | sed 's/^error: //; s/^ *hint: */; /; s/^ *//' |
    tr '\r\n' '  ' | sed 's/  */ /g; s/ ;/;/g; s/ $//')
  [ "$errors" = /dev/null ] || rm -f "$errors"
fi
# Workflow command data: the reason is one line; % is escaped.
annotate() { printf '%s\n' "$1" | sed 's/%/%25/g'; }
failed="collection failed (exit $status)${reason:+: $reason}"
summary() {
  local fence='```'
  local text=${1//"$fence"/"'''"}
  printf '### logkeep: collection failed\n\n%stext\n%s\n%s\n\n' "$fence" "$text" "$fence" >> "${GITHUB_STEP_SUMMARY:-/dev/null}"
}
case $status in
  0) ;;
  3)
    # Only with strict: the archive is written (and then uploaded).
    echo "::error title=logkeep::problems were met while collecting (strict: true); the archive was written, see its manifest"
    exit 3
    ;;
  *)
    if is_true "${INPUT_STRICT:-false}"; then
      annotate "::error title=logkeep::$failed"
      summary "$failed"
      exit "$status"
    fi
    annotate "::warning title=logkeep::$failed; the job goes on (set strict: true to fail it)"
    summary "$failed; the job goes on (set strict: true to fail it)"
    ;;
esac
exit 0
