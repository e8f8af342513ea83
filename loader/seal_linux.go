package loader

import (
	"os"

	"github.com/modelgate/modelgate/internal/memfd"
)

var createSealed = memfd.Create

// CheckSealed fails unless f carries every seal Seal applies (write,
// shrink, grow, seal): the check a process that receives a sealed model
// (inherited, or over a Unix socket) makes before it trusts the bytes not
// to change under it.
func CheckSealed(f *os.File) error { return memfd.Check(f) }
