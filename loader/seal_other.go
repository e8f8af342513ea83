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
