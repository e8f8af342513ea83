#!/usr/bin/env bash
# The modelgate GitHub Action's step (action.yml runs it; .ci/run tests it
# locally). It builds modelgate from the action's own checkout, at the
# action's ref, and runs scan or verify:
#
#   MODELGATE_COMMAND  scan (default) or verify
#   MODELGATE_ARGS     the command's flags and paths (default: .), quoted as
#                      in a shell: --exclude 'docs/*' . (see action/argv)
#   MODELGATE_SARIF    where scan writes its SARIF report (default: modelgate.sarif)
#   MODELGATE_RELEASE  a released version (vX.Y.Z) to run instead of building
#                      modelgate; needs MODELGATE_RELEASE_SHA256, the SHA-256
#                      of its linux_amd64 binary (from its signed SHA256SUMS:
#                      a tag alone pins nothing), checked before it runs
#   MODELGATE_RELEASE_BASE  where releases are downloaded from (default:
#                      https://github.com/modelgate/modelgate/releases/download)
#
# Exit codes are modelgate's: 0 passed, 1 refused, 2 usage, 3 I/O.
set -euo pipefail
: "${GITHUB_ACTION_PATH:?set GITHUB_ACTION_PATH to the action checkout}"
: "${RUNNER_TEMP:=$(mktemp -d)}"
: "${MODELGATE_COMMAND:=scan}"
: "${MODELGATE_ARGS:=.}"
: "${MODELGATE_SARIF:=modelgate.sarif}"

bin="$RUNNER_TEMP/modelgate"
if [ -n "${MODELGATE_RELEASE:-}" ]; then
  [[ $MODELGATE_RELEASE =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "modelgate action: release must be vX.Y.Z, not $MODELGATE_RELEASE" >&2; exit 2; }
  [[ ${MODELGATE_RELEASE_SHA256:-} =~ ^[0-9a-f]{64}$ ]] || { echo "modelgate action: release-sha256 must be the 64-hex SHA-256 of the release binary (see its SHA256SUMS)" >&2; exit 2; }
  base=${MODELGATE_RELEASE_BASE:-https://github.com/modelgate/modelgate/releases/download}
  curl -fsSL -o "$bin" "$base/$MODELGATE_RELEASE/modelgate_${MODELGATE_RELEASE}_linux_amd64" || { echo "modelgate action: cannot download release $MODELGATE_RELEASE" >&2; exit 3; }
  echo "$MODELGATE_RELEASE_SHA256  $bin" | sha256sum -c --quiet - > /dev/null 2>&1 ||
    { echo "modelgate action: the downloaded $MODELGATE_RELEASE binary is not the one release-sha256 pins; not running it" >&2; rm -f "$bin"; exit 2; }
  chmod +x "$bin"
  (cd "$GITHUB_ACTION_PATH" && go build -trimpath -o "$bin-argv" ./action/argv)
else
  (cd "$GITHUB_ACTION_PATH" && go build -trimpath -o "$bin" ./cmd/modelgate && go build -trimpath -o "$bin-argv" ./action/argv)
fi
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
