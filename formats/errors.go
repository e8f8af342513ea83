package formats

import (
	"errors"
	"fmt"
	"strings"
)

// Kind is the stable category of a refusal. Callers branch on it; the
// strings are part of modelgate's contract (JSON output, exit codes) and
// never change.
//
// A Kind is itself an error, so errors.Is(err, formats.KindPickle) reports
// whether err, or anything it wraps, is an *Error of that kind.
type Kind string

// The kinds of refusal. See the README for what each one means to a caller.
const (
	KindMalformed        Kind = "malformed"         // the bytes break the format's rules
	KindLimitExceeded    Kind = "limit-exceeded"    // a count or size is over a configured Limit
	KindUnsupported      Kind = "unsupported"       // valid, but not something modelgate accepts
	KindPickle           Kind = "pickle"            // the content is, or carries, a pickle
	KindCode             Kind = "code"              // the model holds code that runs on load (*.py, auto_map)
	KindUnknownFormat    Kind = "unknown-format"    // the content is not a recognised format
	KindPathTraversal    Kind = "path-traversal"    // a name would reach outside its root
	KindDigestMismatch   Kind = "digest-mismatch"   // a known file has a different digest
	KindNotAllowlisted   Kind = "not-allowlisted"   // no allowlist entry covers the file or signer
	KindSignatureInvalid Kind = "signature-invalid" // a signature or its evidence does not verify
	KindIdentityMismatch Kind = "identity-mismatch" // a valid signature by a signer not allowed
	KindIO               Kind = "io"                // reading or writing failed
	KindUsage            Kind = "usage"             // the caller's configuration is wrong or contradictory
)

// Kinds lists every Kind, in documentation order.
var Kinds = []Kind{
	KindMalformed, KindLimitExceeded, KindUnsupported, KindPickle, KindCode,
	KindUnknownFormat, KindPathTraversal, KindDigestMismatch,
	KindNotAllowlisted, KindSignatureInvalid, KindIdentityMismatch, KindIO, KindUsage,
}

// Error implements the error interface, making each Kind a sentinel for
// errors.Is.
func (k Kind) Error() string { return string(k) }

// NoOffset is the value of Error.Offset when no byte offset applies.
const NoOffset int64 = -1

// Error is the one error type modelgate returns for a refusal. It says what
// kind of refusal it is and where it happened: a file path, a byte offset
// into that file, and the field of the format (for example
// `tensors["w"].shape[1]`).
type Error struct {
	Kind   Kind   // stable category
	Path   string // file (or archive member) concerned, if any
	Field  string // format field concerned, if any
	Offset int64  // byte offset in the file, or NoOffset
	Msg    string // lowercase, says what was wrong and what was expected
	Err    error  // underlying cause, if any
}

// Errorf returns an *Error of kind k at the given byte offset (NoOffset for
// none) with a formatted message. The %w arguments are kept as causes, for
// errors.Is and errors.As.
func Errorf(k Kind, offset int64, format string, args ...any) *Error {
	e := &Error{Kind: k, Offset: offset}
	wrapped := fmt.Errorf(format, args...)
	e.Msg = wrapped.Error()
	if _, several := wrapped.(interface{ Unwrap() []error }); several {
		e.Err = wrapped // errors.Is and errors.As walk every cause
	} else {
		e.Err = errors.Unwrap(wrapped)
	}
	return e
}

// Error formats the error as "path: field: message (at byte N)".
func (e *Error) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Offset >= 0 {
		fmt.Fprintf(&b, " (at byte %d)", e.Offset)
	}
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is e's Kind, so that errors.Is(err, KindX) works.
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.Kind
}

// WithField returns e with its Field set, for chaining at the return site.
func (e *Error) WithField(field string) *Error {
	e.Field = field
	return e
}

// WithPath returns err with its Path set to path if err is an *Error whose
// Path is empty; a nested path (an archive member) is prefixed with path,
// unless it is path already. Other errors are returned unchanged.
func WithPath(err error, path string) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	c := *e
	switch {
	case c.Path == path:
		return err
	case c.Path == "":
		c.Path = path
	default:
		c.Path = path + ":" + c.Path
	}
	return &c
}

// KindOf returns the Kind of err: the Kind of the first *Error in its chain,
// KindIO for any other non-nil error, and "" for nil.
func KindOf(err error) Kind {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindIO
}

// IOError wraps an I/O failure at offset as an *Error of kind KindIO.
func IOError(offset int64, err error) *Error {
	return Errorf(KindIO, offset, "read failed: %w", err)
}
