#!/usr/bin/env bash
# Runs the GitHub Action's shell step (action/run.sh) locally, as CI does:
# a clean model passes, a pickle is refused with exit 1, a bad command is
# a usage error (2), and scan writes its SARIF report. Then it runs the
# workflow example's own steps (examples/ci/github-workflow.yml) with their
# args exactly as written there, quotes included, in a repository that
# needs them.
set -uo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
run() { GITHUB_ACTION_PATH="$repo" RUNNER_TEMP="$tmp" MODELGATE_SARIF="$tmp/out.sarif" "$@" bash "$repo/action/run.sh" > "$tmp/log" 2>&1; echo $?; }
fail() { echo "action_test: $*" >&2; cat "$tmp/log" >&2; exit 1; }

[ "$(run env MODELGATE_COMMAND=scan MODELGATE_ARGS=testdata/safetensors)" = 0 ] || fail "scan of clean models did not pass"
grep -q '"version":"2.1.0"' "$tmp/out.sarif" || fail "no SARIF report"
[ "$(run env MODELGATE_COMMAND=scan MODELGATE_ARGS=testdata/pickle)" = 1 ] || fail "scan of pickles was not refused"
[ "$(run env MODELGATE_COMMAND=verify "MODELGATE_ARGS=--sha256 $(sha256sum testdata/safetensors/tiny-mlp.safetensors | cut -d' ' -f1) testdata/safetensors/tiny-mlp.safetensors")" = 0 ] || fail "verify by digest did not pass"
[ "$(run env MODELGATE_COMMAND=sign)" = 2 ] || fail "an unknown command was not a usage error"

# A released binary, pinned by its SHA-256, runs instead of a build; one
# that is not the pinned binary never runs. (A local "release" served
# over file://, as the download would be.)
rel="$tmp/releases/v9.9.9"; mkdir -p "$rel"
go build -trimpath -ldflags "-X main.releaseVersion=v9.9.9" -o "$rel/modelgate_v9.9.9_linux_amd64" ./cmd/modelgate
pin=$(sha256sum "$rel/modelgate_v9.9.9_linux_amd64" | cut -d' ' -f1)
[ "$(run env MODELGATE_COMMAND=scan MODELGATE_ARGS=testdata/safetensors MODELGATE_RELEASE=v9.9.9 MODELGATE_RELEASE_SHA256="$pin" MODELGATE_RELEASE_BASE="file://$tmp/releases")" = 0 ] || fail "the pinned release did not run"
grep -q "modelgate v9.9.9" "$tmp/log" || fail "the release binary was not the one that ran"
[ "$(run env MODELGATE_COMMAND=scan MODELGATE_ARGS=testdata/safetensors MODELGATE_RELEASE=v9.9.9 MODELGATE_RELEASE_SHA256="$(printf '%064d' 0)" MODELGATE_RELEASE_BASE="file://$tmp/releases")" = 2 ] || fail "a release that is not the pinned binary ran"
grep -q "not the one release-sha256 pins" "$tmp/log" || fail "no word on the mismatched release"
[ "$(run env MODELGATE_COMMAND=scan MODELGATE_ARGS=testdata/safetensors MODELGATE_RELEASE=v9.9.9)" = 2 ] || fail "a release without its pin ran"

# The workflow's args, read from the file as GitHub reads them: the plain
# YAML scalar after "args:" in the step that runs COMMAND.
example() {
  awk -v cmd="$1" '
    /^ *- name:/ { step = 0 }
    $1 == "command:" && $2 == cmd { step = 1 }
    step && $1 == "args:" { sub(/^ *args: */, ""); print; exit }
  ' examples/ci/github-workflow.yml
}
scan_args="$(example scan)"
verify_args="$(example verify)"
[ "$scan_args" = "--policy policy.yaml --exclude 'docs/*' --exclude '*.png' ." ] || fail "the workflow's scan example changed: $scan_args (update this test)"
grep -qF -- "$scan_args" action.yml || fail "action.yml's args description does not show the workflow's example: $scan_args"

# A repository as the example expects it: the policy beside the models,
# docs and images that are no model. Neither exclusion may be dropped:
# docs/notes.bin (no known format, not an image) needs 'docs/*', and
# logo.png (named .png, no image inside) needs '*.png' (a pattern without
# a slash matches at the top only, as path.Match does).
ws="$tmp/workspace"
mkdir -p "$ws/models/llama" "$ws/docs"
cp testdata/safetensors/tiny-mlp.safetensors "$ws/models/llama/model.safetensors"
cp examples/ci/policy.yaml "$ws/policy.yaml"
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\1\0\0\0\1\10\6\0\0\0\x1f\x15\xc4\x89' > "$ws/docs/diagram.png"
head -c 4096 /dev/urandom > "$ws/docs/notes.bin"
head -c 4096 /dev/urandom > "$ws/logo.png"
inws() { (cd "$ws" && run "$@"); }
[ "$(inws env MODELGATE_COMMAND=scan MODELGATE_ARGS=.)" = 1 ] || fail "the repository passed without the example's exclusions: the test shows nothing"
[ "$(inws env MODELGATE_COMMAND=scan "MODELGATE_ARGS=--policy policy.yaml --exclude 'docs/*' .")" = 1 ] || fail "logo.png passed without '*.png'"
[ "$(inws env MODELGATE_COMMAND=scan "MODELGATE_ARGS=--policy policy.yaml --exclude '*.png' .")" = 1 ] || fail "docs/notes.bin passed without 'docs/*'"
[ "$(inws env MODELGATE_COMMAND=scan "MODELGATE_ARGS=$scan_args")" = 0 ] || fail "the workflow's scan example, as written, refused the repository"
grep -q '"results":\[\]' "$tmp/out.sarif" || fail "the example's SARIF report holds findings"
cp testdata/pickle/proto4.pkl "$ws/docs/weights.png"
[ "$(inws env MODELGATE_COMMAND=scan "MODELGATE_ARGS=$scan_args")" = 1 ] || fail "the example's exclusions excused a pickle"
rm "$ws/docs/weights.png"

# Nothing in the args is run or expanded: what a shell would expand is a
# usage error.
[ "$(inws env MODELGATE_COMMAND=scan 'MODELGATE_ARGS=. $(touch pwned)')" = 2 ] || fail "a command substitution in args was not refused"
[ ! -e "$ws/pwned" ] || fail "a command substitution in args ran"
[ "$(inws env MODELGATE_COMMAND=scan "MODELGATE_ARGS=--exclude docs/* .")" = 2 ] || fail "an unquoted pattern was not refused"

# The verify step, as written, on the model signed by the release key the
# example policy names.
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$tmp/release.key" || fail "openssl"
openssl pkey -in "$tmp/release.key" -pubout -out "$ws/release.pub" 2>/dev/null || fail "openssl"
go build -o "$tmp/mg" ./cmd/modelgate || fail "build"
"$tmp/mg" sign --key "$tmp/release.key" "$ws/models/llama" > "$tmp/log" 2>&1 || fail "sign"
[ "$(inws env MODELGATE_COMMAND=verify "MODELGATE_ARGS=$verify_args")" = 0 ] || fail "the workflow's verify example, as written, refused the signed model"
printf 'tampered' >> "$ws/models/llama/model.safetensors"
[ "$(inws env MODELGATE_COMMAND=verify "MODELGATE_ARGS=$verify_args")" = 1 ] || fail "the verify example passed a changed model"
echo "action_test: the action's step passes, refuses and reports as documented; the workflow's examples run as written"
