# logkeep for BATS suites: save the logs of a failed test before the next
# test deletes its VM or service, and pack everything at the end of the suite.
#
#   load /path/to/logkeep/contrib/bats/logkeep      # in each test file AND in setup_suite.bash
#   teardown()       { logkeep_teardown; ...your cleanup...; }
#   setup_suite()    { :; }                          # in setup_suite.bash: bats requires one
#   teardown_suite() { logkeep_teardown_suite; }     # in setup_suite.bash
#
# Settings (environment; relative paths are taken from where bats was started):
#   LOGKEEP_CONFIG       a logkeep.toml naming the instances to collect (required)
#   LOGKEEP_BATS_DIR     where per-test logs are gathered (default: logkeep-bats),
#                        one folder per run of the suite
#   LOGKEEP_BATS_ARCHIVE the archive teardown_suite writes (default: $LOGKEEP_BATS_DIR.tar.zst);
#                        a later run of a suite beside it writes NAME-2, NAME-3...
#   LOGKEEP_BATS_ALL     non-empty: save the logs of every test, not only failed ones
#   LOGKEEP              the logkeep binary (default: logkeep on PATH)
#
# The hooks never fail: a passing test stays passed, a failing one keeps its
# own failure, and a problem saving logs is printed as a TAP comment.

: "${LOGKEEP:=logkeep}"

# A test may cd anywhere (often into a temporary folder bats deletes), so
# relative settings are resolved against the folder bats started in.
_logkeep_abs() {
  case $1 in
    /* | [A-Za-z]:[/\\]*) printf '%s' "$1" ;;
    *) printf '%s/%s' "${BATS_CWD:-$PWD}" "$1" ;;
  esac
}

_logkeep_dir() { _logkeep_abs "${LOGKEEP_BATS_DIR:-logkeep-bats}"; }

# This run's folder, which keeps an earlier run's logs out of this run's
# archive. bats gives every process of one run the same BATS_RUN_TMPDIR and
# creates it anew for each run; but with a fixed `--tempdir` its name is the
# same every time, so the folder's name adds a stamp kept in it.
_logkeep_run_dir() {
  local run=run stamp=
  if [[ -n "${BATS_RUN_TMPDIR:-}" && -d "$BATS_RUN_TMPDIR" ]]; then
    run=$(basename "$BATS_RUN_TMPDIR")
    stamp=$(_logkeep_run_stamp "$BATS_RUN_TMPDIR/logkeep-run")
  fi
  printf '%s/%s' "$(_logkeep_dir)" "$run${stamp:+-$stamp}"
}

# The run's stamp (UTC time and a process id), written by the first process
# to ask. Parallel tests (--jobs) may race: each writes its own file and
# links it into place, which only one link can win, and all read the winner's.
_logkeep_run_stamp() {
  local file=$1 mine
  if [[ ! -s "$file" ]]; then
    mine="$file.$$.$RANDOM"
    if printf '%s-%s\n' "$(date -u +%Y%m%dT%H%M%SZ)" "$$" >"$mine" 2>/dev/null; then
      ln "$mine" "$file" 2>/dev/null
      rm -f "$mine"
    fi
  fi
  cat "$file" 2>/dev/null
}

# A folder name made of anything: safe characters, a bounded length, and a
# short checksum of the second argument (default: the first) so that two
# names that clean up alike stay apart.
_logkeep_folder_name() {
  local clean sum
  clean=$(printf '%s' "$1" | tr -c 'A-Za-z0-9._-' '_' | cut -c1-80)
  sum=$(printf '%s' "${2:-$1}" | cksum | cut -d' ' -f1)
  printf '%s-%s' "$clean" "$sum"
}

# The hooks' collections write no GitHub outputs, annotations or job summary:
# those belong to the workflow's own logkeep step. Nor do they get bats' fds 3
# (TAP) and 4 (tracing), both its output pipe: bats waits until every process
# holding it has exited, so a process rdd or an instances_from command leaves
# running would hang the suite.
_logkeep() {
  env -u GITHUB_ACTIONS -u GITHUB_OUTPUT -u GITHUB_STEP_SUMMARY "$LOGKEEP" "$@" 3>&- 4>&-
}

_logkeep_say() {
  # fd 3 is bats' TAP stream; a comment there never changes a result.
  { printf '# logkeep: %s\n' "$*" >&3; } 2>/dev/null || printf '# logkeep: %s\n' "$*" >&2
}

# What logkeep (or the shell, when it cannot run logkeep) said, on one line.
_logkeep_why() {
  local why=${1:-no message (is $LOGKEEP the logkeep binary?)}
  printf '%s' "${why//$'\n'/ }"
}

logkeep_teardown() {
  [[ -n "${BATS_TEST_SKIPPED:-}" ]] && return 0
  [[ -n "${BATS_TEST_COMPLETED:-}" && -z "${LOGKEEP_BATS_ALL:-}" ]] && return 0
  if [[ -z "${LOGKEEP_CONFIG:-}" ]]; then
    _logkeep_say "LOGKEEP_CONFIG is not set; no logs saved"
    return 0
  fi
  local file dest config why
  config=$(_logkeep_abs "$LOGKEEP_CONFIG")
  file=$(basename "${BATS_TEST_FILENAME:-unknown}" .bats)
  # The file's name, kept apart from same-named files elsewhere by its full path.
  dest="$(_logkeep_run_dir)/$(_logkeep_folder_name "$file" "${BATS_TEST_FILENAME:-}")/$(_logkeep_folder_name "${BATS_TEST_DESCRIPTION:-${BATS_TEST_NAME:-test}}")"
  # A test retried (BATS_TEST_RETRIES) keeps each failed try's logs apart.
  [[ "${BATS_TEST_TRY_NUMBER:-1}" -gt 1 ]] && dest+="-try$BATS_TEST_TRY_NUMBER"
  mkdir -p "$(dirname "$dest")" 2>/dev/null
  if why=$(_logkeep collect --quiet --force --preserve --config "$config" --format dir -o "$dest" 2>&1 >/dev/null); then
    # What `logkeep summary` reads: the description, then how the test ended.
    local result=failed
    [[ -n "${BATS_TEST_COMPLETED:-}" ]] && result=passed
    printf '%s\nresult: %s\n' "${BATS_TEST_DESCRIPTION:-}" "$result" > "$dest/bats-test.txt" 2>/dev/null
    _logkeep_say "saved the logs of \"${BATS_TEST_DESCRIPTION:-$BATS_TEST_NAME}\" in $dest"
  else
    _logkeep_say "could not save the logs of \"${BATS_TEST_DESCRIPTION:-$BATS_TEST_NAME}\": $(_logkeep_why "$why")"
  fi
  return 0
}

# For teardown_file: the logs of the whole file when one of its tests failed
# is what logkeep_teardown already saved; nothing more is needed here.
logkeep_teardown_file() { return 0; }

# Where this run's archive goes: the name asked for, or, when an earlier run
# (another suite of the same job) wrote it, the first free NAME-2, NAME-3...
# An earlier run's archive is never replaced.
_logkeep_free_archive() {
  local archive=$1 dir base stem ext n=2
  [[ -e "$archive" ]] || { printf '%s' "$archive"; return; }
  dir=$(dirname "$archive")
  base=$(basename "$archive")
  case $base in
    *.tar.*) stem=${base%.tar.*} ext=.tar.${base##*.tar.} ;;
    *.*) stem=${base%.*} ext=.${base##*.} ;;
    *) stem=$base ext= ;;
  esac
  while [[ -e "$dir/$stem-$n$ext" ]]; do n=$((n + 1)); done
  printf '%s' "$dir/$stem-$n$ext"
}

logkeep_teardown_suite() {
  local run archive why
  run=$(_logkeep_run_dir)
  # Every test passed (or none could be saved): nothing to pack.
  [[ -n "$(find "$run" -type f -print -quit 2>/dev/null)" ]] || return 0
  # Two suites packing at once may pick the same free name: the one that
  # finds it taken (collect never replaces it) takes the next.
  local tries=0 packed=
  while :; do
    archive=$(_logkeep_free_archive "$(_logkeep_abs "${LOGKEEP_BATS_ARCHIVE:-$(_logkeep_dir).tar.zst}")")
    if why=$(_logkeep collect --quiet --include "$run/**/*" --include-into bats \
        -o "$archive" 2>&1 >/dev/null); then
      packed=1
      break
    fi
    tries=$((tries + 1))
    [[ $why == *"already exists"* && $tries -lt 5 ]] || break
  done
  if [[ -n $packed ]]; then
    _logkeep_say "packed the saved logs into $archive"
  else
    _logkeep_say "could not pack $run: $(_logkeep_why "$why")"
  fi
  return 0
}
