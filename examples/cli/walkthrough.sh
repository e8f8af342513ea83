#!/usr/bin/env bash
# A walk through the modelgate CLI on the bundled testdata: every command,
# accepted files and refusals, with the exit code each must give. CI runs
# it; run it yourself from anywhere:  bash examples/cli/walkthrough.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/modelgate" ./cmd/modelgate || exit 1
mg() { "$work/modelgate" "$@"; }
failures=0
# expect CODE DESCRIPTION -- COMMAND...: run, show, and check the exit code.
expect() {
  local want=$1 what=$2; shift 3
  echo "\$ ${*/#mg/modelgate}"
  "$@"
  local got=$?
  if [ "$got" = "$want" ]; then echo "  -> exit $got ($what)"; else echo "  -> FAIL: exit $got, want $want ($what)"; failures=$((failures + 1)); fi
  echo
}

echo "== inspect: identify by content, parse strictly, list tensors"
expect 0 "a safetensors file" -- mg inspect testdata/safetensors/tiny-mlp.safetensors
expect 0 "an npz, tensors with digests, as JSON" -- mg inspect --json --digests testdata/npz/savez_compressed.npz
cp testdata/pickle/torch-zip.pt "$work/model.safetensors"
expect 1 "a PyTorch pickle renamed .safetensors" -- mg inspect "$work/model.safetensors"
expect 1 "an object array (a pickle inside npy)" -- mg inspect testdata/npy/hostile/object.npy
expect 1 "a 200 MB zip bomb" -- mg inspect testdata/npz/hostile/zeros-bomb.npz
expect 3 "a missing file" -- mg inspect "$work/nope"
expect 2 "a usage error" -- mg inspect

echo "== hash: byte-identical to sha256sum"
mkdir -p "$work/model"
cp testdata/safetensors/tiny-mlp.safetensors "$work/model/model.safetensors"
echo '{"model_type": "mlp"}' > "$work/model/config.json"
expect 0 "hash a directory" -- mg hash "$work/model"
mg hash "$work/model" > "$work/SHA256SUMS"
if command -v sha256sum >/dev/null; then expect 0 "sha256sum -c accepts it" -- sha256sum -c "$work/SHA256SUMS"; fi

echo "== verify: digests first, then the strict parse of the same bytes"
expect 0 "approved by the sha256sum file" -- mg verify --sha256-file "$work/SHA256SUMS" "$work/model"
expect 1 "a digest nobody approved" -- mg verify --sha256 "$(printf '0%.0s' {1..64})" testdata/npy/le-f4.npy
# Names in a sums file are relative to the file's own directory, as
# sha256sum -c reads them, for a policy's digest_files too.
(cd "$work" && mg hash model) > "$work/model.sums"
cat > "$work/policy.yaml" <<POLICY
formats: [safetensors]
limits: {max_file_bytes: 1GiB}
digest_files: [model.sums]
require: [digest]
POLICY
expect 0 "the policy approves it" -- mg verify --policy "$work/policy.yaml" "$work/model"
expect 2 "its sums name nothing in another model: a configuration error" -- mg verify --policy "$work/policy.yaml" testdata/npz/savez.npz
printf 'formats: [safetensors]\n' > "$work/formats.yaml"
expect 1 "the policy does not allow npz" -- mg verify --policy "$work/formats.yaml" testdata/npz/savez.npz
expect 1 "the MLX profile refuses an npy MLX cannot read (format 3.0)" -- mg verify --profile mlx testdata/npy/v3.npy

echo "== sign and verify a signature (OpenSSF Model Signing, local key)"
if command -v openssl >/dev/null; then
  openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$work/release.key"
  openssl ec -in "$work/release.key" -pubout -out "$work/release.pub" 2>/dev/null
  expect 0 "sign on promotion" -- mg sign --key "$work/release.key" "$work/model"
  expect 0 "verify signer and content" -- mg verify --key "$work/release.pub" "$work/model"
  echo '{"model_type": "evil"}' > "$work/model/config.json"
  expect 1 "a changed file breaks the signature" -- mg verify --key "$work/release.pub" "$work/model"
else
  echo "(openssl not installed: skipping sign)"
fi

echo "== scan: the CI gate over a tree, with SARIF"
mkdir -p "$work/repo/good" "$work/repo/bad"
cp testdata/safetensors/tiny-mlp.safetensors "$work/repo/good/"
echo "# model card" > "$work/repo/good/README.md"
expect 0 "a clean tree" -- mg scan "$work/repo/good"
cp testdata/pickle/proto2.pkl "$work/repo/bad/weights.bin"
expect 1 "a pickle anywhere fails the gate" -- mg scan --sarif "$work/scan.sarif" "$work/repo"

echo "== layouts teams have: a Hugging Face cache, a clone without LFS, a real repository"
hub="$work/hub/models--acme--tiny"
mkdir -p "$hub/blobs" "$hub/snapshots/0123abcd"
blob=$(sha256sum testdata/safetensors/tiny-mlp.safetensors | cut -d' ' -f1)
cp testdata/safetensors/tiny-mlp.safetensors "$hub/blobs/$blob"
ln -s "../../blobs/$blob" "$hub/snapshots/0123abcd/model.safetensors"
expect 0 "a cache snapshot, confined to its models-- folder" -- mg inspect "$hub/snapshots/0123abcd"
expect 0 "verified: the LFS blob's name is checked too (cache_blobs)" -- mg verify --json --sha256 "$blob" "$hub/snapshots/0123abcd"
ln -s ../../../../../etc/hostname "$hub/snapshots/0123abcd/notes.txt"
expect 1 "a snapshot link out of blobs/" -- mg scan "$hub/snapshots/0123abcd"
mkdir -p "$work/clone"
printf 'version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize 12345\n' "$blob" > "$work/clone/model.safetensors"
expect 1 "a clone made without git lfs pull" -- mg scan "$work/clone"
mkdir -p "$work/repo2/docs"
cp testdata/safetensors/tiny-mlp.safetensors "$work/repo2/"
printf '\x89PNG\r\n\x1a\n' > "$work/repo2/docs/logo.png"
expect 1 "a repository with an image" -- mg scan "$work/repo2"
expect 0 "the image excluded by name (names never excuse a model or pickle)" -- mg scan --exclude 'docs/*' "$work/repo2"

echo "== convert: canonical safetensors for MLX"
expect 1 "nothing to verify against: convert refuses what verify refuses" -- mg convert --to safetensors testdata/npz/positional.npz "$work/out.safetensors"
expect 0 "npz to safetensors, its digest approved" -- mg convert --sha256 "$(mg hash testdata/npz/positional.npz | cut -c1-64)" --to safetensors testdata/npz/positional.npz "$work/out.safetensors"
expect 0 "the result inspects clean" -- mg inspect "$work/out.safetensors"

echo "== run: the consumer gets the sealed verified bytes, contained"
if [ "$(uname)" = Linux ]; then
  expect 0 "the consumer reads {model}, the sealed copy" -- mg run --sha256 "$blob" testdata/safetensors/tiny-mlp.safetensors -- /bin/sh -c 'test -s "$1"' sh '{model}'
  expect 4 "the consumer exits 3: reported, not passed through" -- mg run --sha256 "$blob" testdata/safetensors/tiny-mlp.safetensors -- /bin/sh -c 'exit 3'
  expect 5 "the consumer crashes: modelgate names the signal" -- mg run --sha256 "$blob" testdata/safetensors/tiny-mlp.safetensors -- /bin/sh -c 'kill -SEGV $$'
fi

if [ "$failures" -ne 0 ]; then echo "walkthrough: $failures unexpected exit codes"; exit 1; fi
echo "walkthrough: every exit code as documented"
