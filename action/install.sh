#!/usr/bin/env bash
# Put a logkeep binary in LOGKEEP_BIN_DIR: one already on PATH, one restored
# from the cache, or one built from the action's own source with cargo.
set -euo pipefail
bin_dir=${LOGKEEP_BIN_DIR:?}
exe=logkeep
case "${RUNNER_OS:-}" in Windows) exe=logkeep.exe ;; esac
if [ -x "$bin_dir/bin/$exe" ]; then
  echo "using the cached logkeep in $bin_dir"
elif command -v "$exe" >/dev/null 2>&1; then
  mkdir -p "$bin_dir/bin"
  cp "$(command -v "$exe")" "$bin_dir/bin/$exe"
  echo "using logkeep from PATH"
else
  echo "::group::building logkeep from source (cached for later runs)"
  cargo install --locked --quiet --path "${GITHUB_ACTION_PATH:?}" --root "$bin_dir"
  echo "::endgroup::"
fi
echo "logkeep=$bin_dir/bin/$exe" >> "${GITHUB_OUTPUT:?}"
