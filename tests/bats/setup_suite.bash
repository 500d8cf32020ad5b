# The suite-wide hooks of the sample suite.
load "${LOGKEEP_HOOK:?}"

setup_suite() { :; }

teardown_suite() {
  logkeep_teardown_suite
}
