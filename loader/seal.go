package loader

import (
	"errors"
	"io"
	"os"

	"github.com/modelgate/modelgate/formats"
)

// SealFormat is the format Seal writes: the format of a model's one
// weight file when that is GGUF or npy, which are handed on as verified,
// byte for byte; safetensors otherwise (the canonical file
// WriteSafetensors writes, as `modelgate convert` does).
func (m *Model) SealFormat() formats.Format {
	if len(m.Files) == 1 {
		switch f := m.Files[0].Format; f {
		case formats.FormatGGUF, formats.FormatNpy:
			return f
		}
	}
	return formats.FormatSafetensors
}

// Seal writes what was verified into a sealed Linux memfd and returns it,
// opened read-only at offset 0: the file SealFormat names. Once Seal
// returns, nobody (this process included) can write, truncate or grow the
// file, map it writable and shared, or lift its seals; a consumer that
// inherits it (exec.Cmd.ExtraFiles, then /proc/self/fd/N) or receives it
// over a Unix socket reads exactly the verified bytes, whatever happens to
// the model's path afterwards. It costs one copy of the model in shared
// memory (shmem, counted against the memory cgroup of the process that
// writes it), held until every descriptor and mapping of it is closed.
// The caller closes the file; the Model may be closed as soon as Seal
// returns. Outside Linux, Seal fails with kind unsupported.
func (m *Model) Seal() (*os.File, error) {
	name := "modelgate-verified." + string(m.SealFormat())
	f, err := createSealed(name, m.writeSealed)
	var fe *formats.Error
	if err != nil && !errors.As(err, &fe) {
		return nil, formats.WithPath(formats.IOError(formats.NoOffset, err), m.Path)
	}
	return f, err
}

// writeSealed writes what Seal seals.
func (m *Model) writeSealed(w io.Writer) error {
	if m.SealFormat() == formats.FormatSafetensors {
		return m.WriteSafetensors(w)
	}
	f := m.Files[0].parsed
	if _, err := io.Copy(w, io.NewSectionReader(f.verified, 0, f.Size)); err != nil {
		return formats.WithPath(formats.IOError(formats.NoOffset, err), m.Files[0].Name)
	}
	return nil
}
