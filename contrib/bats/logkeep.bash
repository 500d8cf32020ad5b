# logkeep for BATS suites: save the logs of a failed test before the next
# test deletes its VM or service, and pack everything at the end of the suite.
#
#   load /path/to/logkeep/contrib/bats/logkeep      # in each test file, or in setup_suite.bash
#   teardown()       { logkeep_teardown; ...your cleanup...; }
#   teardown_suite() { logkeep_teardown_suite; }     # in setup_suite.bash
#
# Settings (environment):
#   LOGKEEP_CONFIG       a logkeep.toml naming the instances to collect (required)
#   LOGKEEP_BATS_DIR     where per-test logs are gathered (default: ./logkeep-bats)
#   LOGKEEP_BATS_ARCHIVE the archive teardown_suite writes (default: $LOGKEEP_BATS_DIR.tar.zst)
#   LOGKEEP_BATS_ALL     non-empty: save the logs of every test, not only failed ones
#   LOGKEEP              the logkeep binary (default: logkeep on PATH)
#
# The hooks never fail: a passing test stays passed, a failing one keeps its
# own failure, and a problem saving logs is printed as a TAP comment.

: "${LOGKEEP:=logkeep}"
: "${LOGKEEP_BATS_DIR:=$PWD/logkeep-bats}"
: "${LOGKEEP_BATS_ARCHIVE:=$LOGKEEP_BATS_DIR.tar.zst}"

# A folder name made of anything: safe characters, a bounded length, and a
# short checksum of the second argument (default: the first) so that two
# names that clean up alike stay apart.
_logkeep_folder_name() {
  local clean sum
  clean=$(printf '%s' "$1" | tr -c 'A-Za-z0-9._-' '_' | cut -c1-80)
  sum=$(printf '%s' "${2:-$1}" | cksum | cut -d' ' -f1)
  printf '%s-%s' "$clean" "$sum"
}

# Per-test collections must not write the job summary: only the suite's does.
_logkeep() {
  env -u GITHUB_ACTIONS -u GITHUB_OUTPUT -u GITHUB_STEP_SUMMARY "$LOGKEEP" "$@"
}

_logkeep_say() {
  # fd 3 is bats' TAP stream; a comment there never changes a result.
  { printf '# logkeep: %s\n' "$*" >&3; } 2>/dev/null || printf '# logkeep: %s\n' "$*" >&2
}

logkeep_teardown() {
  [[ -n "${BATS_TEST_SKIPPED:-}" ]] && return 0
  [[ -n "${BATS_TEST_COMPLETED:-}" && -z "${LOGKEEP_BATS_ALL:-}" ]] && return 0
  if [[ -z "${LOGKEEP_CONFIG:-}" ]]; then
    _logkeep_say "LOGKEEP_CONFIG is not set; no logs saved"
    return 0
  fi
  local file dest
  file=$(basename "${BATS_TEST_FILENAME:-unknown}" .bats)
  # The file's name, kept apart from same-named files elsewhere by its full path.
  dest="$LOGKEEP_BATS_DIR/$(_logkeep_folder_name "$file" "${BATS_TEST_FILENAME:-}")/$(_logkeep_folder_name "${BATS_TEST_DESCRIPTION:-${BATS_TEST_NAME:-test}}")"
  mkdir -p "$(dirname "$dest")" 2>/dev/null
  if _logkeep collect --quiet --force --preserve --config "$LOGKEEP_CONFIG" --format dir -o "$dest" >/dev/null 2>&1; then
    printf '%s\n' "${BATS_TEST_DESCRIPTION:-}" > "$dest/bats-test.txt" 2>/dev/null
    _logkeep_say "saved the logs of \"${BATS_TEST_DESCRIPTION:-$BATS_TEST_NAME}\" in $dest"
  else
    _logkeep_say "could not save the logs of \"${BATS_TEST_DESCRIPTION:-$BATS_TEST_NAME}\""
  fi
  return 0
}

# For teardown_file: the logs of the whole file when one of its tests failed
# is what logkeep_teardown already saved; nothing more is needed here.
logkeep_teardown_file() { return 0; }

logkeep_teardown_suite() {
  [[ -d "$LOGKEEP_BATS_DIR" ]] || return 0
  if _logkeep collect --quiet --force --include "$LOGKEEP_BATS_DIR/**/*" --include-into bats \
      -o "$LOGKEEP_BATS_ARCHIVE" >/dev/null 2>&1; then
    _logkeep_say "packed the saved logs into $LOGKEEP_BATS_ARCHIVE"
  else
    _logkeep_say "could not pack $LOGKEEP_BATS_DIR"
  fi
  return 0
}
