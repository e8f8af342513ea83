#!/usr/bin/env bash
# Measures modelgate against the tools a user would otherwise reach for,
# in one run on the same files, interleaving the contenders so that noise on
# a shared machine hits them alike. Prints min/median/max seconds and the
# ratio of medians; paste the output into BENCHMARKS.md.
#
#   bench/run.sh [RUNS]           (default 5; needs ~7 GiB in $BENCH_DIR, ~3 GiB
#                                 more for the OCI section, bench/oci.sh)
#
# Files go to $BENCH_DIR (default /tmp/modelgate-bench) and are kept for
# the next run. Peers that are not installed are skipped, and say so.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
DIR=${BENCH_DIR:-/tmp/modelgate-bench}
mkdir -p "$DIR"
BIN="$DIR/modelgate"
go build -o "$BIN" ./cmd/modelgate
(cd bench && go build -o "$DIR/benchtool" ./benchtool)

# Files: one 2 GiB file and eight of 256 MiB (random, so nothing compresses
# or short-circuits), in the page cache before timing starts.
[ -f "$DIR/one-2g.bin" ] || head -c $((2 << 30)) /dev/urandom > "$DIR/one-2g.bin"
for i in 1 2 3 4 5 6 7 8; do
  [ -f "$DIR/part-$i.bin" ] || head -c $((256 << 20)) /dev/urandom > "$DIR/part-$i.bin"
done
"$DIR/benchtool" mkmodel "$DIR" # model files for the parse and verify rows
"$DIR/benchtool" mkgguf "$DIR"  # a sparse 4 GiB GGUF and a 150,000-entry tokenizer
[ -d "$DIR/tree-1000" ] || "$DIR/benchtool" mktree "$DIR/tree-1000" 1000
[ -d "$DIR/tree-4000" ] || "$DIR/benchtool" mktree "$DIR/tree-4000" 4000
# npz with two stored 200 MiB members, written by numpy itself (Debian's
# /usr/bin/python3 with python3-numpy, as for testdata/gen.py).
[ -f "$DIR/big.npz" ] || /usr/bin/python3 -c 'import numpy as np, sys
r = np.random.default_rng(0)
np.savez(sys.argv[1], a=r.standard_normal(50<<20, dtype=np.float32), b=r.standard_normal(50<<20, dtype=np.float32))' "$DIR/big.npz"
NUMPY_READ='import numpy as np, sys
d = np.load(sys.argv[1])
print(sum(d[k].nbytes for k in d.files))'
# A key-signed bundle over the 1 GiB file, as cosign sign-blob writes it
# (no log upload: the comparison is of hashing and memory).
COSIGN=$(command -v cosign || echo "$(go env GOPATH)/bin/cosign")
if [ -x "$COSIGN" ] && [ ! -f "$DIR/sig-1g.bundle" ]; then
  (cd "$DIR" && COSIGN_PASSWORD="" "$COSIGN" generate-key-pair --output-key-prefix bench > /dev/null 2>&1)
  COSIGN_PASSWORD="" "$COSIGN" sign-blob --yes --key "$DIR/bench.key" --tlog-upload=false --new-bundle-format \
    --bundle "$DIR/sig-1g.bundle" "$DIR/sig-1g.safetensors" > /dev/null 2>&1
fi
ROOT=../shared/vectors/sigstore/trusted_root.public-good.json
# The 2 GiB model signed three ways, for the blake3 and shards rows: an
# ECDSA key, bundles beside the model (model_signing's files serialization
# by sha256 and by blake3, and its shards serialization of 1 GB).
if [ ! -f "$DIR/m2g-shards.sig" ]; then
  openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt > "$DIR/m2g.key"
  openssl ec -in "$DIR/m2g.key" -pubout > "$DIR/m2g.pub" 2> /dev/null
  "$BIN" sign --key "$DIR/m2g.key" --output "$DIR/m2g-sha256.sig" "$DIR/model-2g" > /dev/null
  "$BIN" sign --key "$DIR/m2g.key" --hash blake3 --output "$DIR/m2g-blake3.sig" "$DIR/model-2g" > /dev/null
  "$BIN" sign --key "$DIR/m2g.key" --shard-size 1000000000 --output "$DIR/m2g-shards.sig" "$DIR/model-2g" > /dev/null
fi
cat "$DIR"/*.bin "$DIR"/*.safetensors "$DIR"/model-2g/* "$DIR"/*.gguf "$DIR/big.npz" > /dev/null

declare -A TIMES
time_it() { # name command...
  local name=$1; shift
  local t0 t1
  t0=$(date +%s.%N); "$@" > /dev/null; t1=$(date +%s.%N)
  TIMES[$name]+="$(echo "$t1 - $t0" | bc) "
}
have() { command -v "$1" > /dev/null; }

HASHLIB='import hashlib,sys
h=hashlib.sha256(); f=open(sys.argv[1],"rb")
for c in iter(lambda: f.read(1<<20), b""): h.update(c)
print(h.hexdigest())'

# The host, printed beside the tables: figures hold for the CPU they were
# taken on (AVX2 against AVX-512, SHA-NI or not), and BENCHMARKS.md keeps a
# table per host kind.
echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' ') model $(grep -m1 '^model\s' /proc/cpuinfo | cut -d: -f2 | tr -d ' '), $(nproc) cores"
echo "flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512f|avx512vl|avx512bw|sha_ni|vaes)$' | tr '\n' ' ')"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg); page cache: hot (every file read once before timing)"

for run in $(seq "$RUNS"); do
  echo "run $run/$RUNS" >&2
  time_it "hash1:modelgate" "$BIN" hash "$DIR/one-2g.bin"
  have openssl && time_it "hash1:openssl-dgst" openssl dgst -sha256 "$DIR/one-2g.bin"
  have sha256sum && time_it "hash1:sha256sum" sha256sum "$DIR/one-2g.bin"
  [ -x /usr/bin/python3 ] && time_it "hash1:python-hashlib" /usr/bin/python3 -c "$HASHLIB" "$DIR/one-2g.bin"
  time_it "hash1b3:modelgate" "$BIN" hash --algorithm blake3 "$DIR/one-2g.bin"
  have b3sum && time_it "hash1b3:b3sum" b3sum "$DIR/one-2g.bin"
  for how in sha256 blake3 shards; do
    time_it "verify2g:$how" "$BIN" verify --key "$DIR/m2g.pub" --bundle "$DIR/m2g-$how.sig" "$DIR/model-2g"
  done
  time_it "hash8:modelgate" "$BIN" hash "$DIR"/part-?.bin
  have sha256sum && time_it "hash8:sha256sum" sha256sum "$DIR"/part-?.bin
  time_it "open4g:modelgate" "$DIR/benchtool" open "$DIR/big-4g.safetensors"
  time_it "open4g:nlpodyssey" "$DIR/benchtool" open-nlp "$DIR/big-4g.safetensors"
  time_it "gguf4g:modelgate" "$DIR/benchtool" open "$DIR/big-4g.gguf"
  time_it "gguf4g:gguf-parser-go" "$DIR/benchtool" open-gguf-parser "$DIR/big-4g.gguf"
  time_it "gguftok:modelgate" "$DIR/benchtool" open "$DIR/tok150k.gguf"
  time_it "gguftok:gguf-parser-go" "$DIR/benchtool" open-gguf-parser "$DIR/tok150k.gguf"
  time_it "parse100k:modelgate" "$DIR/benchtool" parse 10
  time_it "parse100k:nlpodyssey" "$DIR/benchtool" parse-nlp 10
  if [ -f "$DIR/sig-1g.bundle" ]; then
    time_it "verify1g:modelgate" "$BIN" verify --key "$DIR/bench.pub" --bundle "$DIR/sig-1g.bundle" "$DIR/sig-1g.safetensors"
    [ -f "$ROOT" ] && time_it "verify1g:cosign" "$COSIGN" verify-blob --key "$DIR/bench.pub" --bundle "$DIR/sig-1g.bundle" \
      --new-bundle-format --insecure-ignore-tlog=true --trusted-root "$ROOT" "$DIR/sig-1g.safetensors"
  fi
  time_it "npz400m:modelgate" "$DIR/benchtool" npz "$DIR/big.npz"
  [ -x /usr/bin/python3 ] && time_it "npz400m:numpy" /usr/bin/python3 -c "$NUMPY_READ" "$DIR/big.npz"
  time_it "scan1000:modelgate" "$BIN" scan "$DIR/tree-1000"
  time_it "scan4000:modelgate" "$BIN" scan "$DIR/tree-4000"
done

summary() { # name -> "min median max"
  echo "${TIMES[$1]}" | tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {printf "%.3f %.3f %.3f", a[1], a[int((NR+1)/2)], a[NR]}'
}
median() { summary "$1" | cut -d' ' -f2; }

printf '%-24s %8s %8s %8s\n' "what" "min" "median" "max"
for k in $(printf '%s\n' "${!TIMES[@]}" | sort); do
  printf '%-24s %8s %8s %8s\n' "$k" $(summary "$k")
done
echo
ratio() { # label numerator denominator
  [ -n "${TIMES[$2]:-}" ] && [ -n "${TIMES[$3]:-}" ] && printf '%-58s %6.2fx\n' "$1" "$(echo "$(median "$2") / $(median "$3")" | bc -l)"
  return 0
}
GiB2=$((2 << 30))
echo "ratios of medians (higher is better for modelgate):"
ratio "hash 2 GiB: openssl dgst time / modelgate time" hash1:openssl-dgst hash1:modelgate
ratio "hash 2 GiB: python hashlib time / modelgate time" hash1:python-hashlib hash1:modelgate
ratio "hash 2 GiB: sha256sum time / modelgate time" hash1:sha256sum hash1:modelgate
ratio "hash 8x256 MiB: sha256sum time / modelgate time" hash8:sha256sum hash8:modelgate
ratio "hash 2 GiB blake3: b3sum time / modelgate time (target 0.9)" hash1b3:b3sum hash1b3:modelgate
ratio "hash 2 GiB: modelgate sha256 time / blake3 time (target 3)" hash1:modelgate hash1b3:modelgate
ratio "verify 2 GiB model: signed sha256 / signed blake3 (target 2.5)" verify2g:sha256 verify2g:blake3
ratio "verify 2 GiB model: files sha256 / shards sha256 (target 1.8)" verify2g:sha256 verify2g:shards
printf '%-58s %6.2fx\n' "hash 8 files vs 1 file: modelgate throughput ratio" \
  "$(echo "(2 / $(median hash8:modelgate)) / (2 / $(median hash1:modelgate))" | bc -l)"
ratio "open 4 GiB safetensors: nlpodyssey time / modelgate time" open4g:nlpodyssey open4g:modelgate
ratio "open 4 GiB GGUF: gguf-parser-go (mmap) time / modelgate time" gguf4g:gguf-parser-go gguf4g:modelgate
ratio "open a 150,000-entry GGUF tokenizer: gguf-parser-go / modelgate" gguftok:gguf-parser-go gguftok:modelgate
ratio "parse a 100,000-tensor header 10 times: nlpodyssey / modelgate" parse100k:nlpodyssey parse100k:modelgate
ratio "verify 1 GiB against a key bundle: cosign time / modelgate time" verify1g:cosign verify1g:modelgate
ratio "npz 2x200 MiB, open and read every byte: numpy time / modelgate time" npz400m:numpy npz400m:modelgate
ratio "scan 4000 files / scan 1000 files (linear: about 4)" scan4000:modelgate scan1000:modelgate
echo
echo "in-memory SHA-256 kernel (the ceiling for one stream):"
go test ./verify -run '^$' -bench 'SHA256Kernel|HashFile' -benchtime 2s | grep Benchmark
echo "BLAKE3 kernels on one hot 512 KiB segment, and internal/b3tree on 64 MiB:"
go test ./internal/b3tree -run '^$' -bench 'Kernel|Sum' -benchtime 2s | grep Benchmark
have openssl && openssl speed -evp sha256 -bytes 1048576 -seconds 2 2>/dev/null | tail -1
echo "modelgate 2 GiB throughput (median): $(echo "$GiB2 / $(median hash1:modelgate) / 1000000" | bc) MB/s"
echo
echo "peak RSS (KiB):"
echo "  modelgate inspect 4 GiB file: $("$DIR/benchtool" rss "$BIN" inspect "$DIR/big-4g.safetensors") (file: $((4 << 20)) KiB)"
if [ -f "$DIR/sig-1g.bundle" ]; then
  echo "  modelgate verify 1 GiB + bundle: $("$DIR/benchtool" rss "$BIN" verify --key "$DIR/bench.pub" --bundle "$DIR/sig-1g.bundle" "$DIR/sig-1g.safetensors")"
  [ -f "$ROOT" ] && echo "  cosign verify-blob 1 GiB: $("$DIR/benchtool" rss "$COSIGN" verify-blob --key "$DIR/bench.pub" --bundle "$DIR/sig-1g.bundle" --new-bundle-format --insecure-ignore-tlog=true --trusted-root "$ROOT" "$DIR/sig-1g.safetensors")"
fi
echo "  modelgate hash --algorithm blake3 2 GiB: $("$DIR/benchtool" rss "$BIN" hash --algorithm blake3 "$DIR/one-2g.bin")"
have b3sum && echo "  b3sum 2 GiB: $("$DIR/benchtool" rss b3sum "$DIR/one-2g.bin")"
echo "  modelgate verify 2 GiB, blake3-signed: $("$DIR/benchtool" rss "$BIN" verify --key "$DIR/m2g.pub" --bundle "$DIR/m2g-blake3.sig" "$DIR/model-2g")"
echo "  modelgate inspect 4 GiB GGUF: $("$DIR/benchtool" rss "$BIN" inspect "$DIR/big-4g.gguf")"
echo "  gguf-parser-go open 4 GiB GGUF: $("$DIR/benchtool" rss "$DIR/benchtool" open-gguf-parser "$DIR/big-4g.gguf")"
echo "  nlpodyssey open 4 GiB file: $("$DIR/benchtool" rss "$DIR/benchtool" open-nlp "$DIR/big-4g.safetensors")"
echo
echo "OCI artifact: oras pull + verify DIR against verify oci://…@sha256 (bench/oci.sh; skipped without registry and oras on PATH):"
bash bench/oci.sh "$RUNS"
