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
set -euo pipefail
: "${MODELGATE:=modelgate}"
: "${MODELGATE_POLICY:=policy.yaml}"
[ "$#" -gt 0 ] || { echo "usage: $0 MODEL_DIR..." >&2; exit 2; }

"$MODELGATE" scan --json --sarif modelgate.sarif "$@" > modelgate-scan.json
i=0
for model in "$@"; do
  i=$((i + 1))
  "$MODELGATE" verify --json --policy "$MODELGATE_POLICY" "$model" > "modelgate-verify-$i.json"
done
echo "modelgate: every model passed the gate" >&2
