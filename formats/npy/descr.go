package npy

import (
	"strings"

	"github.com/modelgate/modelgate/formats"
)

// simpleTypes maps a descr without its byte-order character to a DType.
var simpleTypes = map[string]formats.DType{
	"b1": formats.BOOL,
	"i1": formats.I8, "i2": formats.I16, "i4": formats.I32, "i8": formats.I64,
	"u1": formats.U8, "u2": formats.U16, "u4": formats.U32, "u8": formats.U64,
	"f2": formats.F16, "f4": formats.F32, "f8": formats.F64,
	"c8": formats.C64,
}

// unsupportedKinds names the numpy type kinds modelgate does not accept.
var unsupportedKinds = map[byte]string{
	'S': "byte string", 'a': "byte string", 'U': "unicode string", 'V': "void",
	'M': "datetime", 'm': "timedelta", 'f': "extended-precision float",
	'c': "extended-precision complex", 'i': "integer of this size", 'u': "integer of this size",
	'b': "boolean of this size",
}

// setDescr interprets the descr literal: a simple type string, or a list
// (a structured dtype). Object types, which numpy stores as pickles, are
// refused with KindPickle wherever they appear.
func (a *Array) setDescr(d literal) *formats.Error {
	if d.kind != litString {
		if hasObject(d) {
			return formats.Errorf(formats.KindPickle, d.at, "structured dtype with an object field: its data is a pickle")
		}
		return formats.Errorf(formats.KindUnsupported, d.at, "structured dtype %s is not supported; only simple numeric dtypes are", shortRepr(d))
	}
	a.Descr = d.str
	if isObject(d.str) {
		return formats.Errorf(formats.KindPickle, d.at, "object dtype %q: the data is a pickle", d.str)
	}
	if len(d.str) < 2 || !strings.ContainsRune("<>|", rune(d.str[0])) {
		if strings.HasPrefix(d.str, "=") {
			return formats.Errorf(formats.KindMalformed, d.at, "descr %q has native byte order, which is ambiguous in a file", d.str)
		}
		return formats.Errorf(formats.KindMalformed, d.at, "descr %q does not start with a byte order ('<', '>' or '|')", d.str)
	}
	a.ByteOrder = d.str[0]
	dt, ok := simpleTypes[d.str[1:]]
	if !ok {
		if what, known := unsupportedKinds[d.str[1]]; known {
			return formats.Errorf(formats.KindUnsupported, d.at, "dtype %q (%s) is not supported", d.str, what)
		}
		return formats.Errorf(formats.KindMalformed, d.at, "unknown dtype %q", d.str)
	}
	if dt.Bits() > 8 && a.ByteOrder == '|' {
		return formats.Errorf(formats.KindMalformed, d.at, "descr %q: byte order %q does not fit a %d-byte type", d.str, a.ByteOrder, dt.Bits()/8)
	}
	a.DType = dt
	return nil
}

// isObject reports whether a descr string names Python objects ("|O",
// "|O8", "O").
func isObject(s string) bool {
	s = strings.TrimLeft(s, "<>|=")
	return s == "O" || s == "O4" || s == "O8"
}

// hasObject reports whether a structured descr has an object field at any
// depth. Each field is (name, descr) or (name, descr, shape).
func hasObject(d literal) bool {
	switch d.kind {
	case litString:
		return isObject(d.str)
	case litList:
		for _, f := range d.items {
			if f.kind == litTuple && len(f.items) >= 2 && hasObject(f.items[1]) {
				return true
			}
		}
	case litTuple: // (base, shape) sub-array form
		return len(d.items) >= 1 && hasObject(d.items[0])
	}
	return false
}

func shortRepr(d literal) string {
	switch d.kind {
	case litList:
		return "(a list of fields)"
	case litTuple:
		return "(a tuple)"
	}
	return "(not a string)"
}
