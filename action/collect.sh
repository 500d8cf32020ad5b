#!/usr/bin/env bash
# The action's one real step: preserve, collect and report, from the INPUT_*
# variables action.yml sets. Collection problems never fail the job unless
# INPUT_STRICT is true; they are annotations and lines in the job summary.
set -uo pipefail
logkeep=${LOGKEEP:-logkeep}
# GitHub compares the inputs in action.yml without case: so does this.
is_true() { [ "$(printf '%s' "${1:-}" | tr '[:upper:]' '[:lower:]')" = true ]; }
format=${INPUT_FORMAT:-tar.zst}
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
if [ -n "${INPUT_INSTANCES:-}" ]; then
  args+=(--rdd "${INPUT_RDD:-rdd}")
  # One a line, or several on a line (a folded YAML scalar): any blank separates.
  read -r -a instances <<< "$(printf '%s' "$INPUT_INSTANCES" | tr '\r\n\t' '   ')"
  for instance in ${instances[@]+"${instances[@]}"}; do
    args+=(--instance "$instance")
  done
fi
while IFS= read -r glob; do
  glob=${glob%$'\r'}
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

echo "name=$name" >> "${GITHUB_OUTPUT:-/dev/null}"
"$logkeep" "${args[@]}"
status=$?
case $status in
  0) ;;
  3)
    # Only with strict: the archive is written (and then uploaded).
    echo "::error title=logkeep::problems were met while collecting (strict: true); the archive was written, see its manifest"
    exit 3
    ;;
  *)
    if is_true "${INPUT_STRICT:-false}"; then
      echo "::error title=logkeep::collection failed (exit $status)"
      exit "$status"
    fi
    echo "::warning title=logkeep::collection failed (exit $status); the job goes on (set strict: true to fail it)"
    ;;
esac
exit 0
