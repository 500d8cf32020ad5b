#!/usr/bin/env bash
# Find a logkeep binary: one already on PATH, one restored from the cache into
# LOGKEEP_BIN_DIR, or one built there from the action's own source with cargo
# (then `built=true` tells the next step to save it in the cache).
set -euo pipefail
bin_dir=${LOGKEEP_BIN_DIR:?}
exe=logkeep
case "${RUNNER_OS:-}" in Windows) exe=logkeep.exe ;; esac
if command -v "$exe" >/dev/null 2>&1; then
  logkeep=$(command -v "$exe")
  echo "using logkeep from PATH ($logkeep)"
elif [ -x "$bin_dir/bin/$exe" ]; then
  logkeep="$bin_dir/bin/$exe"
  echo "using the cached logkeep in $bin_dir"
elif ! command -v cargo >/dev/null 2>&1; then
  echo "::error title=logkeep::no logkeep binary and no cargo to build one: put logkeep on PATH, or set up a Rust toolchain (e.g. dtolnay/rust-toolchain), before this step"
  exit 1
else
  echo "::group::building logkeep from source (cached for later runs)"
  built=0
  cargo install --locked --quiet --path "${GITHUB_ACTION_PATH:?}" --root "$bin_dir" || built=$?
  echo "::endgroup::"
  if [ "$built" -ne 0 ]; then
    echo "::error title=logkeep::building logkeep with cargo failed (exit $built); its output is in the group above"
    exit "$built"
  fi
  logkeep="$bin_dir/bin/$exe"
  echo "built=true" >> "${GITHUB_OUTPUT:?}"
fi
echo "logkeep=$logkeep" >> "${GITHUB_OUTPUT:?}"
