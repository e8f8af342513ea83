package b3kernel_test

import (
	"fmt"

	"lukechampine.com/blake3/guts"

	"github.com/modelgate/modelgate/internal/b3kernel"
)

// The BLAKE3 hash of a 32 KiB input (32 chunks): the chaining values of
// its two aligned 16-chunk halves, joined by the root parent node; b3sum
// prints the same for this input.
func ExampleSubtreeCV() {
	input := make([]byte, 32*b3kernel.ChunkSize)
	for i := range input {
		input[i] = byte(i % 251)
	}
	left := b3kernel.SubtreeCV(input[:16*b3kernel.ChunkSize], 0)
	right := b3kernel.SubtreeCV(input[16*b3kernel.ChunkSize:], 16)
	root := guts.ParentNode(left, right, &guts.IV, 0)
	root.Flags |= guts.FlagRoot
	out := guts.WordsToBytes(guts.CompressNode(root))
	fmt.Printf("%x\n", out[:32])
	// Output: 162183d1f9184474f5a5c9e6224e66720cdb6523f822e52d9b1efa30893f48f9
}
