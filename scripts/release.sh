#!/usr/bin/env bash
# Builds a modelgate release: reproducible binaries, an SPDX SBOM for each,
# a SHA256SUMS file over them, and a model_signing bundle over SHA256SUMS
# made by modelgate's own `sign` and checked by its own `verify`.
#
#   scripts/release.sh VERSION OUTDIR KEY PUB     a release (VERSION is vX.Y.Z)
#   scripts/release.sh --dry-run OUTDIR           what CI runs: linux/amd64
#                                                 only, a throw-away key, and
#                                                 a second build that must be
#                                                 byte-identical
#
# SHA256SUMS sits alone in OUTDIR/sums/, signed as a model of one text
# file (sums/model.sig), because modelgate verifies models and a directory
# holding binaries is not one. A user checks a release from OUTDIR with:
#   modelgate verify --key modelgate-release.pub sums
#   sha256sum -c sums/SHA256SUMS  (BSD-style lines, as sha256sum --tag writes them)
# (b3sum is not used: SHA-256 is what sha256sum, cosign and in-toto read).
set -euo pipefail
cd "$(dirname "$0")/.."
dry=false
if [ "${1:-}" = --dry-run ]; then
  dry=true; version=v0.0.0-dryrun; out=${2:?usage: release.sh --dry-run OUTDIR}
  key="$out/dryrun.key"; pub="$out/dryrun.pub"
  platforms="linux/amd64"
else
  version=${1:?usage: release.sh VERSION OUTDIR KEY PUB}; out=${2:?}; key=${3:?}; pub=${4:?}
  [[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "release.sh: VERSION must be vX.Y.Z, not $version" >&2; exit 2; }
  [ -z "$(git status --porcelain)" ] || { echo "release.sh: the work tree has uncommitted changes" >&2; exit 2; }
  platforms="linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64"
fi
mkdir -p "$out"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
if $dry; then
  openssl ecparam -name prime256v1 -genkey -noout 2> /dev/null | openssl pkcs8 -topk8 -nocrypt > "$key"
  openssl ec -in "$key" -pubout > "$pub" 2> /dev/null
fi

# Reproducible: no cgo, no paths (-trimpath), no build id, no VCS stamp that
# differs between a clone and a tarball; the version is stamped in.
build() { # GOOS GOARCH OUTPUT [TAGS]
  CGO_ENABLED=0 GOOS=$1 GOARCH=$2 go build -trimpath -buildvcs=false -tags "${4:-}" \
    -ldflags "-s -w -buildid= -X main.releaseVersion=$version" -o "$3" ./cmd/modelgate
}
names=()
for p in $platforms; do
  os=${p%/*}; arch=${p#*/}; ext=""; [ "$os" = windows ] && ext=.exe
  name="modelgate_${version}_${os}_${arch}${ext}"
  build "$os" "$arch" "$out/$name"
  go run ./scripts/sbom "$out/$name" > "$out/$name.spdx.json"
  names+=("$name" "$name.spdx.json")
  # The lean program (cmd/modelgate/lean.go), installed as modelgate with
  # the full one beside it as modelgate-full: it starts as a small Go
  # program does and runs the full one for verify, sign, convert and run.
  lean="modelgate-lean_${version}_${os}_${arch}${ext}"
  build "$os" "$arch" "$out/$lean" modelgate_lean
  go run ./scripts/sbom "$out/$lean" > "$out/$lean.spdx.json"
  names+=("$lean" "$lean.spdx.json")
done
if $dry; then
  # The same source built again, from another directory, must give the same bytes.
  other=$(mktemp -d); trap 'rm -rf "$other"' EXIT
  git ls-files -z | xargs -0 -I{} cp --parents {} "$other"
  (cd "$other" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -buildvcs=false \
    -ldflags "-s -w -buildid= -X main.releaseVersion=$version" -o "$out/rebuild" ./cmd/modelgate)
  cmp "$out/${names[0]}" "$out/rebuild" || { echo "release.sh: the build is not reproducible" >&2; exit 1; }
  (cd "$other" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -buildvcs=false -tags modelgate_lean \
    -ldflags "-s -w -buildid= -X main.releaseVersion=$version" -o "$out/rebuild" ./cmd/modelgate)
  cmp "$out/${names[2]}" "$out/rebuild" || { echo "release.sh: the lean build is not reproducible" >&2; exit 1; }
  rm "$out/rebuild"
  # The pair as installed: the lean program answers version itself and
  # hands verify to the full one.
  pair=$(mktemp -d); cp "$out/${names[2]}" "$pair/modelgate"; cp "$out/${names[0]}" "$pair/modelgate-full"
  "$pair/modelgate" version | grep -q "$version" || { echo "release.sh: the lean binary does not report $version" >&2; exit 1; }
  "$pair/modelgate" verify --help > /dev/null || { echo "release.sh: the lean binary does not reach modelgate-full" >&2; exit 1; }
  rm -r "$pair"
  echo "reproducible: ${names[0]} and ${names[2]} built twice from two directories are byte-identical"
fi
mkdir -p "$out/sums"
# BSD-style lines (sha256sum --tag: "SHA256 (NAME) = HEX"), which sha256sum
# -c and modelgate's digest-file reader both read: a GNU-style list whose
# first digest begins with "c" is also a protocol-0 pickle that imports a
# module named by its first line, and verify refuses it as one (about one
# release in sixteen); a line beginning "SHA256 (" is a STRING opcode
# CPython refuses before anything is imported.
(cd "$out" && sha256sum --tag "${names[@]}" > sums/SHA256SUMS)
mg="$out/${names[0]}"
if ! "$mg" version > /dev/null 2>&1; then mg=$(mktemp -d)/modelgate; go build -o "$mg" ./cmd/modelgate; fi
"$mg" version | grep -q "$version" || [ "$mg" != "$out/${names[0]}" ] || { echo "release.sh: the binary does not report $version" >&2; exit 1; }
"$mg" sign --key "$key" --force "$out/sums"
"$mg" verify --key "$pub" "$out/sums"
(cd "$out" && sha256sum -c --quiet sums/SHA256SUMS)
echo "release $version in $out: ${#names[@]} files, sums/SHA256SUMS signed and verified"
