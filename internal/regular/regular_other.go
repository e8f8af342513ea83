//go:build !unix

package regular

// openNonblock is zero where opening a special file does not block.
const openNonblock = 0
