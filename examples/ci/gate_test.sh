#!/usr/bin/env bash
# Runs gate.sh on a passing and a failing layout (CI runs this).
set -uo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/modelgate" ./cmd/modelgate || exit 1
export MODELGATE="$work/modelgate"
mkdir -p "$work/models/mlp"
cp testdata/safetensors/tiny-mlp.safetensors "$work/models/mlp/model.safetensors"
(cd "$work" && "$MODELGATE" hash models/mlp) > "$work/mlp.sums" # names relative to mlp.sums, as sha256sum -c reads them
printf 'formats: [safetensors]\ndigest_files: [mlp.sums]\nrequire: [digest]\n' > "$work/policy.yaml"
gate="$PWD/examples/ci/gate.sh"
cd "$work"
MODELGATE_POLICY=policy.yaml "$gate" models/mlp || { echo "gate refused a good model"; exit 1; }
grep -q '"ok": true' modelgate-verify-1.json || { echo "no verify JSON"; exit 1; }
# The gate passes on the digest it verified: the promotion step checks the
# bytes it publishes against it, and refuses a file swapped after the gate.
[ "$(cut -d' ' -f1 modelgate-verified-1.sums)" = "$(sha256sum models/mlp/model.safetensors | cut -d' ' -f1)" ] || { echo "the gate did not pass on the verified digest"; cat modelgate-verified-1.sums; exit 1; }
"$MODELGATE" verify --sha256-file modelgate-verified-1.sums models/mlp >/dev/null || { echo "the promotion step refused the verified bytes"; exit 1; }
cp models/mlp/model.safetensors swapped && printf '\x01' | dd of=swapped bs=1 seek=200 conv=notrunc 2>/dev/null && mv swapped models/mlp/model.safetensors
"$MODELGATE" verify --sha256-file modelgate-verified-1.sums models/mlp 2>/dev/null; rc=$?
[ "$rc" = 1 ] || { echo "the promotion step took a file swapped after the gate (exit $rc)"; exit 1; }
cp "$OLDPWD/testdata/safetensors/tiny-mlp.safetensors" models/mlp/model.safetensors
cp "$OLDPWD/testdata/pickle/proto4.pkl" models/mlp/tokenizer.bin
if MODELGATE_POLICY=policy.yaml "$gate" models/mlp 2>/dev/null; then echo "gate passed a pickle"; exit 1; fi
grep -q '"ruleId": *"pickle"' modelgate.sarif || grep -q '"ruleId":"pickle"' modelgate.sarif || { echo "no SARIF finding"; exit 1; }
echo "gate_test: passed and refused as expected"
