package consumers

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Diff says how b's reading differs from a's, or "" when they agree. Only
// what both readers expose is compared: a field one of them leaves empty
// (an offset numpy does not give, metadata npy has none of) is skipped.
func Diff(a, b Reading) string {
	if a.OK != b.OK {
		return fmt.Sprintf("%s vs %s", a.Outcome(), b.Outcome())
	}
	var d []string
	if a.Metadata != nil && b.Metadata != nil {
		for _, k := range slices.Sorted(maps.Keys(a.Metadata)) {
			if bv, ok := b.Metadata[k]; !ok {
				d = append(d, "metadata "+printable(k)+" missing")
			} else if bv != a.Metadata[k] {
				d = append(d, fmt.Sprintf("metadata %s: %.80s vs %.80s", printable(k), a.Metadata[k], bv))
			}
		}
		for _, k := range slices.Sorted(maps.Keys(b.Metadata)) {
			if _, ok := a.Metadata[k]; !ok {
				d = append(d, "metadata "+printable(k)+" added")
			}
		}
	}
	if len(a.Tensors) != len(b.Tensors) {
		d = append(d, fmt.Sprintf("%d tensors vs %d", len(a.Tensors), len(b.Tensors)))
	} else {
		for i, at := range a.Tensors {
			if s := tensorDiff(at, b.Tensors[i]); s != "" {
				d = append(d, fmt.Sprintf("tensor %q: %s", at.Name(), s))
			}
		}
	}
	if len(d) > 6 {
		d = append(d[:6], fmt.Sprintf("and %d more", len(d)-6))
	}
	return strings.Join(d, "; ")
}

func tensorDiff(a, b Tensor) string {
	var d []string
	if a.NameHex != b.NameHex {
		d = append(d, fmt.Sprintf("name vs %q", b.Name()))
	}
	if a.DType != b.DType {
		d = append(d, "dtype "+a.DType+" vs "+b.DType)
	}
	if !slices.Equal(a.Shape, b.Shape) {
		d = append(d, fmt.Sprintf("shape %v vs %v", a.Shape, b.Shape))
	}
	if a.Offset != nil && b.Offset != nil && *a.Offset != *b.Offset {
		d = append(d, fmt.Sprintf("offset %d vs %d", *a.Offset, *b.Offset))
	}
	if a.Size != nil && b.Size != nil && *a.Size != *b.Size {
		d = append(d, fmt.Sprintf("size %d vs %d", *a.Size, *b.Size))
	}
	if a.SHA256 != "" && b.SHA256 != "" && a.SHA256 != b.SHA256 {
		d = append(d, "bytes differ")
	}
	return strings.Join(d, ", ")
}

// printable turns a hex key back into text for a message.
func printable(hexKey string) string {
	return fmt.Sprintf("%q", Tensor{NameHex: hexKey}.Name())
}
