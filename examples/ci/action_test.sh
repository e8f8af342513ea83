#!/usr/bin/env bash
# Runs the GitHub Action's shell step (action/run.sh) locally, as CI does:
# a clean model passes, a pickle is refused with exit 1, a bad command is
# a usage error (2), and scan writes its SARIF report.
set -uo pipefail
cd "$(dirname "$0")/../.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
run() { GITHUB_ACTION_PATH="$PWD" RUNNER_TEMP="$tmp" MODELGATE_SARIF="$tmp/out.sarif" "$@" bash action/run.sh > "$tmp/log" 2>&1; echo $?; }
fail() { echo "action_test: $*" >&2; cat "$tmp/log" >&2; exit 1; }

[ "$(run env MODELGATE_COMMAND=scan MODELGATE_ARGS=testdata/safetensors)" = 0 ] || fail "scan of clean models did not pass"
grep -q '"version":"2.1.0"' "$tmp/out.sarif" || fail "no SARIF report"
[ "$(run env MODELGATE_COMMAND=scan MODELGATE_ARGS=testdata/pickle)" = 1 ] || fail "scan of pickles was not refused"
[ "$(run env MODELGATE_COMMAND=verify "MODELGATE_ARGS=--sha256 $(sha256sum testdata/safetensors/tiny-mlp.safetensors | cut -d' ' -f1) testdata/safetensors/tiny-mlp.safetensors")" = 0 ] || fail "verify by digest did not pass"
[ "$(run env MODELGATE_COMMAND=sign)" = 2 ] || fail "an unknown command was not a usage error"
echo "action_test: the action's step passes, refuses and reports as documented"
