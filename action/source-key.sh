#!/usr/bin/env bash
# The cache key of the logkeep binary: a hash of the action's own source
# (hashFiles() cannot see files outside the workspace).
set -euo pipefail
cd "${GITHUB_ACTION_PATH:?}"
key=$(find Cargo.toml Cargo.lock src -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
echo "key=$key" >> "${GITHUB_OUTPUT:?}"
