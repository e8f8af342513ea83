#!/usr/bin/env bash
# Restores the public upstream test vectors the tests read (../shared/vectors
# beside a checkout, or $MODELGATE_VECTORS) from their upstream
# repositories, at the commits scripts/vectors.lock pins, and checks every
# file's SHA-256 against the lock.
#
#   scripts/vectors.sh DEST          restore every set into DEST
#   scripts/vectors.sh --check DIR   check a copy (for example ../shared/vectors)
#
# Then run the tests with MODELGATE_VECTORS=DEST (or put DEST at ../shared/vectors).
# VECTORS_GIT_URL is a printf template for a repository's URL, given
# OWNER/NAME (default https://github.com/%s.git); point it at mirrors to
# restore offline.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lock="$here/vectors.lock"
url=${VECTORS_GIT_URL:-https://github.com/%s.git}

check() { # DIR: every locked file present with its digest
  local dir=$1 bad=0 n=0
  while IFS=$'\t' read -r sum path _; do
    n=$((n + 1))
    if [ ! -f "$dir/$path" ]; then echo "missing: $path" >&2; bad=1; continue; fi
    [ "$(sha256sum < "$dir/$path" | cut -d' ' -f1)" = "$sum" ] || { echo "differs: $path" >&2; bad=1; }
  done < <(grep -v '^#' "$lock")
  [ $bad = 0 ] || { echo "vectors.sh: $dir does not match scripts/vectors.lock" >&2; return 1; }
  echo "vectors.sh: $dir holds all $n files of scripts/vectors.lock"
}

if [ "${1:-}" = --check ]; then check "${2:?usage: vectors.sh --check DIR}"; exit; fi
dest=${1:?usage: vectors.sh DEST | --check DIR}
mkdir -p "$dest"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
grep -v '^#' "$lock" | cut -f3,4 | sort -u | while IFS=$'\t' read -r repo commit; do
  g="$work/${repo//\//+}-$commit"
  git init -q --bare "$g"
  # shellcheck disable=SC2059
  src=$(printf "$url" "$repo")
  echo "fetching $repo at $commit"
  git --git-dir="$g" fetch -q --depth 1 --filter=blob:none "$src" "$commit" 2> /dev/null ||
    git --git-dir="$g" fetch -q --depth 1 "$src" "$commit"
  grep -v '^#' "$lock" | awk -F'\t' -v r="$repo" -v c="$commit" '$3 == r && $4 == c' |
    while IFS=$'\t' read -r _ path _ _ upath; do
      mkdir -p "$dest/$(dirname "$path")"
      git --git-dir="$g" show "$commit:$upath" > "$dest/$path"
    done
done
check "$dest"
