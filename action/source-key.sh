#!/usr/bin/env bash
# The cache key of the logkeep binary: a hash of the action's own source
# (hashFiles() cannot see files outside the workspace). macOS runners have
# shasum but no sha256sum.
set -euo pipefail
cd "${GITHUB_ACTION_PATH:?}"
if command -v sha256sum >/dev/null 2>&1; then
  hash=(sha256sum)
else
  hash=(shasum -a 256)
fi
key=$(find Cargo.toml Cargo.lock src -type f -print0 | sort -z | xargs -0 "${hash[@]}" | "${hash[@]}" | cut -c1-16)
echo "key=$key" >> "${GITHUB_OUTPUT:?}"
