#!/usr/bin/env bash
# A generic CI step that gates model promotion: every file under the model
# directories is identified and parsed strictly (no pickle, no malformed
# weights, no path tricks), then each model is verified against the team's
# policy (formats, limits, approved digests, required signatures).
#
#   MODELGATE_POLICY=policy.yaml examples/ci/gate.sh models/llama models/mlp
#
# Exit 0 promotes; any refusal exits 1 (2 usage, 3 I/O). The SARIF report
# (modelgate.sarif) and per-model JSON results (modelgate-*.json) are left
# for the CI system to upload.
#
# What passes the gate is a set of digests, not a path: for each model it
# writes modelgate-verified-N.sums (sha256sum lines; .b3sums for files only
# BLAKE3 covered), the digests of the very bytes it verified, taken from
# verify's JSON. The next step promotes those bytes, never "whatever the
# path holds by then": it checks what it publishes against them
# (modelgate verify --sha256-file modelgate-verified-N.sums MODEL, or
# sha256sum -c) or pushes by digest, so a file swapped after the gate is
# refused there.
set -euo pipefail
: "${MODELGATE:=modelgate}"
: "${MODELGATE_POLICY:=policy.yaml}"
[ "$#" -gt 0 ] || { echo "usage: $0 MODEL_DIR..." >&2; exit 2; }
command -v jq >/dev/null || { echo "gate.sh needs jq" >&2; exit 2; }

"$MODELGATE" scan --json --sarif modelgate.sarif "$@" > modelgate-scan.json
i=0
for model in "$@"; do
  i=$((i + 1))
  "$MODELGATE" verify --json --policy "$MODELGATE_POLICY" "$model" > "modelgate-verify-$i.json"
  dir="$model"
  [ -d "$model" ] || dir="$(dirname "$model")"
  jq -r --arg d "$dir" '.files[] | select(.sha256) | "\(.sha256)  \($d)/\(.name)"' "modelgate-verify-$i.json" > "modelgate-verified-$i.sums"
  jq -r --arg d "$dir" '.files[] | select(.sha256 | not) | "\(.blake3)  \($d)/\(.name)"' "modelgate-verify-$i.json" > "modelgate-verified-$i.b3sums"
done
echo "modelgate: every model passed the gate; promote the digests in modelgate-verified-*.sums" >&2
