# Shared by the shell tests (tests/cli, tests/desktop): source it, run `expect` for each case, and end
# with `finish`, which exits non-zero if any case failed.
failures=0

pass() { echo "ok   $1"; }
fail() { echo "FAIL $1"; failures=$((failures + 1)); }

# expect <name> <exit code> <text the output must contain> -- command...
expect() {
  local name="$1" code="$2" text="$3"
  shift 4
  local output status
  output=$("$@" 2>&1)
  status=$?
  if [ "$status" -ne "$code" ]; then
    fail "$name: exit $status, expected $code"; echo "$output" | tail -5; return
  fi
  if ! grep -qF -- "$text" <<<"$output"; then
    fail "$name: output lacks '$text'"; echo "$output" | tail -5; return
  fi
  pass "$name"
}
