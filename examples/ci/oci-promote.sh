#!/usr/bin/env bash
# Promote a model artifact from a staging repository to production only
# after modelgate verified it, by digest: the copy names the same digest
# that was verified, so a tag moved or a layer swapped in between cannot
# be promoted.
#
#   examples/ci/oci-promote.sh registry.example/staging/llama@sha256:HEX \
#       registry.example/prod/llama:v1 [modelgate verify flags...]
#
# Exit 0 promoted; 1 refused (nothing copied); 2 usage; 3 I/O.
# Needs modelgate and oras (oras.land/oras v1.3.6) on PATH, or $MODELGATE
# and $ORAS; registry credentials come from the Docker configuration.
# Extra arguments go to modelgate verify (--key release.pub, --policy FILE,
# --plain-http); ORAS_FLAGS to oras copy (for example --from-plain-http --to-plain-http).
set -euo pipefail
: "${MODELGATE:=modelgate}"
: "${ORAS:=oras}"
[ "$#" -ge 2 ] || { echo "usage: $0 SRC@sha256:HEX DST[:TAG] [VERIFY FLAGS...]" >&2; exit 2; }
src=$1 dst=$2
shift 2
case "$src" in
  *@sha256:*) ;;
  *) echo "$0: pin the source by digest (SRC@sha256:HEX): a tag can move between verify and copy" >&2; exit 2 ;;
esac
"$MODELGATE" verify "$@" "oci://$src"
# shellcheck disable=SC2086 # ORAS_FLAGS is a list of flags
"$ORAS" copy ${ORAS_FLAGS:-} "$src" "$dst"
