package pbwire_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/modelgate/modelgate/formats/internal/pbwire"
)

// protowireReads reports whether protowire reads b as fields to its end,
// with the field numbers protobuf's C++ and upb parsers read: a tag must
// fit in 32 bits (numbers up to 2^29-1), where protowire allows numbers
// up to 2^31-1.
func protowireReads(b []byte) bool {
	for len(b) > 0 {
		num, _, n := protowire.ConsumeField(b)
		if n < 0 || num > protowire.MaxValidNumber || !numbersValid(b[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

// numbersValid reports whether every field number in field, a whole field
// protowire.ConsumeField accepted, groups included, is at most
// protowire.MaxValidNumber: ConsumeField checks a group's structure but
// not the numbers of the fields inside it, which a protobuf parser refuses
// (C++ reads a tag as 32 bits).
func numbersValid(field []byte) bool {
	for len(field) > 0 {
		num, typ, n := protowire.ConsumeTag(field)
		if n < 0 || num > protowire.MaxValidNumber {
			return false
		}
		field = field[n:]
		if typ == protowire.StartGroupType || typ == protowire.EndGroupType {
			continue // the group's fields follow, and its end tag closes it
		}
		m := protowire.ConsumeFieldValue(num, typ, field)
		if m < 0 {
			return false
		}
		field = field[m:]
	}
	return true
}

var seeds = [][]byte{
	{0x08, 0x96, 0x01},                   // varint
	{0x12, 0x02, 'h', 'i'},               // bytes
	{0x1d, 1, 2, 3, 4},                   // fixed32
	{0x21, 1, 2, 3, 4, 5, 6, 7, 8},       // fixed64
	{0x2b, 0x08, 0x01, 0x2c},             // a group holding a varint
	{0x2b, 0x2c, 0x08},                   // group, then a cut varint
	{0x2c},                               // an end-group alone
	{0x00, 0x01},                         // field number 0
	{0x0e},                               // wire type 6
	{0x12, 0x05, 'a'},                    // a length past the end
	{0xf8, 0xff, 0xff, 0xff, 0x7f, 0x00}, // field number 2^32-1
}

// TestWalkAgreesWithProtowire on the seeds: Walk reads exactly what
// protowire reads.
func TestWalkAgreesWithProtowire(t *testing.T) {
	for _, b := range seeds {
		assert.Equal(t, protowireReads(b), pbwire.Bytes(b, func(pbwire.Field) error { return nil }) == nil, "%x", b)
	}
}

// FuzzWalk checks, for any input: no panic, and Walk agrees with
// protowire (but for groups deeper than MaxDepth, which Walk refuses).
func FuzzWalk(f *testing.F) {
	for _, b := range seeds {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := pbwire.Bytes(b, func(pbwire.Field) error { return nil })
		if err != nil && strings.Contains(err.Error(), "nested deeper") {
			return
		}
		require.Equal(t, protowireReads(b), err == nil, "%v", err)
	})
}
