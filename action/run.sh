#!/usr/bin/env bash
# The modelgate GitHub Action's step (action.yml runs it; .ci/run tests it
# locally). It builds modelgate from the action's own checkout, at the
# action's ref, and runs scan or verify:
#
#   MODELGATE_COMMAND  scan (default) or verify
#   MODELGATE_ARGS     the command's flags and paths (default: .)
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
(cd "$GITHUB_ACTION_PATH" && go build -trimpath -o "$bin" ./cmd/modelgate)
"$bin" version

# Word splitting of MODELGATE_ARGS is intended: it holds flags and paths.
# shellcheck disable=SC2086
case "$MODELGATE_COMMAND" in
  scan) exec "$bin" scan --sarif "$MODELGATE_SARIF" $MODELGATE_ARGS ;;
  verify) exec "$bin" verify $MODELGATE_ARGS ;;
  *) echo "modelgate action: command must be scan or verify, not $MODELGATE_COMMAND" >&2; exit 2 ;;
esac
