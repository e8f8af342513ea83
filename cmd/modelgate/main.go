// Command modelgate inspects, scans, hashes, verifies, signs and converts
// model-weight files before anything loads them.
//
// Usage:
//
//	modelgate inspect [--json] [--digests] [--profile mlx] PATH
//	modelgate scan    [--json] [--sarif FILE] [--follow-symlinks] PATH...
//	modelgate hash    [--json] PATH...
//	modelgate verify  [--policy FILE] [--sha256 HEX | --sha256-file FILE | --blake3-file FILE]
//	                  [--bundle FILE] [--identity SAN | --identity-regexp RE] [--issuer URL]
//	                  [--key PEM] [--ca PEM] [--trusted-root FILE] [--profile mlx] [--json] PATH
//	modelgate sign    --key KEY [--ignore-paths a,b] PATH
//	modelgate convert --to safetensors [--profile mlx] [verify's flags] IN OUT
//	modelgate run     [verify flags] [--allow-read PATH] [--network] MODEL -- CMD [ARGS]
//
// Exit codes: 0 accepted, 1 refused, 2 usage error, 3 I/O error; run also
// 4 when its consumer failed, 5 when a signal killed it. With
// --json, stdout carries exactly one JSON object: {"ok":true,...} or
// {"ok":false,"error":{"kind":"...","message":"..."}}.
package main

import "os"

func main() {
	os.Exit(start(os.Args[1:]))
}

// handedOver is set in the environment of the full program by a lean one
// that hands it an invocation (lean.go).
const handedOver = "MODELGATE_HANDED_OVER"
