#!/usr/bin/env bash
# The cost of gating a model that ships as an OCI artifact: modelgate
# verify oci://REPO@sha256:… (fetch each blob once, hash it as it lands,
# unpack through os.Root, gate the tree) against `oras pull` followed by
# `modelgate verify DIR` on the same artifact. A CNCF Distribution registry
# runs on 127.0.0.1 (no TLS, no network), holding one ModelPack artifact
# pushed by the oras CLI: one raw weight layer of random safetensors data.
# The two are interleaved; prints min/median/max wall seconds, the medians
# of user+sys seconds and of peak RSS (KiB), and the ratios of medians.
#
#   bench/oci.sh [RUNS]          (default 5; bench/run.sh runs it when
#                                 registry and oras are on PATH)
#   BENCH_OCI_SIZE=BYTES         the weights' size (default 1 GiB; a
#                                 multiple of 1 MiB)
#
# Needs the registry (go install
# github.com/distribution/distribution/v3/cmd/registry@v3.1.2) and oras
# (go install oras.land/oras/cmd/oras@v1.3.6), on PATH or named by
# $MODELGATE_REGISTRY and $MODELGATE_ORAS. Files go to $BENCH_DIR
# (default /tmp/modelgate-bench)/oci; the artifact is kept, the pulled and
# unpacked copies removed after each run.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
SIZE=${BENCH_OCI_SIZE:-$((1 << 30))}
DIR=${BENCH_DIR:-/tmp/modelgate-bench}
OCI="$DIR/oci"
REGISTRY=${MODELGATE_REGISTRY:-registry} # as the tests find them
ORAS=${MODELGATE_ORAS:-oras}
for tool in "$REGISTRY" "$ORAS"; do
  command -v "$tool" > /dev/null || { echo "oci: $tool is not on PATH; skipped"; exit 0; }
done
mkdir -p "$OCI/src-$SIZE" "$OCI/tmp"
go build -o "$DIR/modelgate" ./cmd/modelgate # this checkout's, as run.sh builds it
(cd bench && go build -o "$DIR/benchtool" ./benchtool)
BIN="$DIR/modelgate"
"$DIR/benchtool" mkst "$OCI/src-$SIZE/model.safetensors" "$SIZE"

# A free port on 127.0.0.1, and a registry on it with fresh storage.
PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
HOST="127.0.0.1:$PORT"
rm -rf "$OCI/data"
cat > "$OCI/config.yml" << EOF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $OCI/data}}
http: {addr: $HOST}
EOF
"$REGISTRY" serve "$OCI/config.yml" > "$OCI/registry.log" 2>&1 &
REG=$!
trap 'kill $REG 2> /dev/null; wait $REG 2> /dev/null || true' EXIT
up() { /usr/bin/python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "http://$HOST/v2/" 2> /dev/null; }
for _ in $(seq 100); do
  up && break
  sleep 0.1
done
up || { cat "$OCI/registry.log"; exit 1; }

(cd "$OCI/src-$SIZE" && "$ORAS" push --plain-http "$HOST/bench/model:v1" \
  --artifact-type application/vnd.cncf.model.manifest.v1+json \
  model.safetensors:application/vnd.cncf.model.weight.v1.raw > /dev/null)
DIGEST=$("$ORAS" resolve --plain-http "$HOST/bench/model:v1")
REF="$HOST/bench/model@$DIGEST"
# Both sides must agree the artifact is good before anything is timed.
"$BIN" verify "oci://$REF" > /dev/null
# oras pull writes the layer under its title (model.safetensors); the
# directory is then verified against the layer's digest, as the manifest
# approves it (the layer digest is the file's sha256).
LAYER=$("$ORAS" manifest fetch --plain-http "$REF" | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["layers"][0]["digest"].split(":")[1])')
PULL_AND_VERIFY="rm -rf '$OCI/pulled' && oras pull --plain-http -o '$OCI/pulled' '$REF' > /dev/null && '$BIN' verify --sha256 $LAYER '$OCI/pulled'"

declare -A WALL CPU RSS
measure() { # name command...
  local name=$1 r; shift
  r=$("$DIR/benchtool" measure "$@")
  read -r w c m <<< "$r"
  WALL[$name]+="$w "; CPU[$name]+="$c "; RSS[$name]+="$m "
}
echo "oci: $SIZE bytes of weights, $RUNS runs; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq "$RUNS"); do
  echo "oci run $run/$RUNS" >&2
  measure pull+verify bash -c "$PULL_AND_VERIFY"
  measure verify-oci env TMPDIR="$OCI/tmp" "$BIN" verify "oci://$REF"
  rm -rf "$OCI/pulled"
done

stats() { # values -> "min median max"
  echo "$1" | tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {printf "%s %s %s", a[1], a[int((NR+1)/2)], a[NR]}'
}
printf '%-32s %8s %8s %8s %12s %14s\n' "what" "min" "median" "max" "cpu median" "maxrss median"
for k in pull+verify verify-oci; do
  read -r lo mid hi <<< "$(stats "${WALL[$k]}")"
  printf '%-32s %8s %8s %8s %12s %14s\n' "$k" "$lo" "$mid" "$hi" "$(stats "${CPU[$k]}" | cut -d' ' -f2)" "$(stats "${RSS[$k]}" | cut -d' ' -f2)"
done
med() { stats "$1" | cut -d' ' -f2; }
ratio() { # label numerator denominator (awk: bc is not everywhere)
  awk -v l="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%-58s %6.2fx\n", l, a / b }'
}
echo "ratios of medians (higher is better for modelgate):"
for what in wall:WALL cpu:CPU rss:RSS; do
  declare -n v=${what#*:}
  ratio "oci $SIZE B: oras pull + verify DIR / verify oci:// (${what%:*})" "$(med "${v[pull+verify]}")" "$(med "${v[verify-oci]}")"
done
