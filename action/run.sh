#!/usr/bin/env bash
# The modelgate GitHub Action's step (action.yml runs it; .ci/run tests it
# locally). It builds modelgate from the action's own checkout, at the
# action's ref, and runs scan or verify:
#
#   MODELGATE_COMMAND  scan (default) or verify
#   MODELGATE_ARGS     the command's flags and paths (default: .), quoted as
#                      in a shell: --exclude 'docs/*' . (see action/argv)
#   MODELGATE_SARIF    where scan writes its SARIF report (default: modelgate.sarif)
#
# Exit codes are modelgate's: 0 passed, 1 refused, 2 usage, 3 I/O.
set -euo pipefail
: "${GITHUB_ACTION_PATH:?set GITHUB_ACTION_PATH to the action checkout}"
: "${RUNNER_TEMP:=$(mktemp -d)}"
: "${MODELGATE_COMMAND:=scan}"
: "${MODELGATE_ARGS:=.}"
: "${MODELGATE_SARIF:=modelgate.sarif}"

bin="$RUNNER_TEMP/modelgate"
(cd "$GITHUB_ACTION_PATH" && go build -trimpath -o "$bin" ./cmd/modelgate && go build -trimpath -o "$bin-argv" ./action/argv)
"$bin" version

# MODELGATE_ARGS is split as a shell splits words, quotes honoured
# (--exclude 'docs/*' passes docs/*), by action/argv, which expands and
# runs nothing and refuses what a shell would expand ($, `, an unquoted *).
MODELGATE_ARGS="$MODELGATE_ARGS" "$bin-argv" > "$RUNNER_TEMP/modelgate-args" || exit 2
args=()
mapfile -d '' -t args < "$RUNNER_TEMP/modelgate-args"

case "$MODELGATE_COMMAND" in
  scan) exec "$bin" scan --sarif "$MODELGATE_SARIF" "${args[@]}" ;;
  verify) exec "$bin" verify "${args[@]}" ;;
  *) echo "modelgate action: command must be scan or verify, not $MODELGATE_COMMAND" >&2; exit 2 ;;
esac
