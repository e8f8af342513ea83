#!/usr/bin/env bash
# The pre-commit hook's entry (.pre-commit-hooks.yaml): builds only
# cmd/modelgate from the hook's checkout (once; go caches it), then scans
# the files being committed.
set -euo pipefail
# MODELGATE_BIN names a modelgate binary to run instead (a release whose
# SHA256SUMS you checked); otherwise it is built from the hook's checkout.
if [ -n "${MODELGATE_BIN:-}" ]; then
  exec "$MODELGATE_BIN" scan "$@"
fi
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="$here/.modelgate-hook-bin"
(cd "$here" && go build -trimpath -o "$bin" ./cmd/modelgate)
exec "$bin" scan "$@"
