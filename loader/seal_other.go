//go:build !linux

package loader

import (
	"io"
	"os"

	"github.com/modelgate/modelgate/formats"
)

func createSealed(string, func(io.Writer) error) (*os.File, error) {
	return nil, formats.Errorf(formats.KindUnsupported, formats.NoOffset, "sealed files (memfd) exist on Linux only")
}

// CheckSealed fails unless f carries every seal Seal applies; off Linux
// there are none.
func CheckSealed(*os.File) error {
	return formats.Errorf(formats.KindUnsupported, formats.NoOffset, "sealed files (memfd) exist on Linux only")
}
