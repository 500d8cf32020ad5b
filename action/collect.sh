#!/usr/bin/env bash
# The action's one real step: preserve, collect and report, from the INPUT_*
# variables action.yml sets. Collection problems never fail the job unless
# INPUT_STRICT is true; they are annotations and lines in the job summary.
set -uo pipefail
logkeep=${LOGKEEP:-logkeep}
format=${INPUT_FORMAT:-tar.zst}
# Two matrix jobs uploading one name fail with 409: the default is unique.
name=${INPUT_NAME:-}
if [ -z "$name" ]; then
  name="rdd-logs-${GITHUB_JOB:-job}-${RUNNER_OS:-os}-${RUNNER_ARCH:-arch}-${GITHUB_RUN_ATTEMPT:-1}-$(date +%s)$RANDOM"
fi
name=$(printf '%s' "$name" | tr -c 'A-Za-z0-9._-' '_')
out_dir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/logkeep"
mkdir -p "$out_dir"

args=(collect --github --force)
[ -n "${INPUT_CONFIG:-}" ] && args+=(--config "$INPUT_CONFIG")
if [ -n "${INPUT_INSTANCES:-}" ]; then
  args+=(--rdd "${INPUT_RDD:-rdd}")
  while IFS= read -r instance; do
    instance=${instance%$'\r'}
    [ -n "${instance// }" ] && args+=(--instance "${instance// }")
  done <<< "$INPUT_INSTANCES"
fi
while IFS= read -r glob; do
  glob=${glob%$'\r'}
  [ -n "$glob" ] && args+=(--include "$glob")
done <<< "${INPUT_INCLUDE:-}"
[ "${INPUT_PRESERVE:-true}" = true ] && args+=(--preserve)
[ "${INPUT_STRICT:-false}" = true ] && args+=(--strict)
if [ "${INPUT_UPLOAD_FOLDER:-false}" = true ]; then
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
if [ "$status" -ne 0 ]; then
  if [ "${INPUT_STRICT:-false}" = true ]; then
    echo "::error title=logkeep::collection failed (exit $status)"
    exit "$status"
  fi
  echo "::warning title=logkeep::collection failed (exit $status); the job goes on (set strict: true to fail it)"
fi
exit 0
