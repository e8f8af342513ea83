// Command modelgate inspects, hashes and verifies model-weight files before
// anything loads them.
//
// Usage:
//
//	modelgate inspect [--json] [--digests] FILE
//
// Exit codes: 0 accepted, 1 refused, 2 usage error, 3 I/O error. With
// --json, stdout carries exactly one JSON object: {"ok":true,...} or
// {"ok":false,"error":{"kind":"...","message":"..."}}.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
