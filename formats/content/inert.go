package content

import (
	"fmt"
	"io"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/internal/strictzip"
	"github.com/modelgate/modelgate/formats/media"
	"github.com/modelgate/modelgate/formats/pickle"
	"github.com/modelgate/modelgate/formats/sentencepiece"
)

// inertBinary names binary content that ships beside models and that no
// model loader reads: a SentencePiece model, or an image or document
// (formats/media), which is refused if it goes on past its end.
func inertBinary(r io.ReaderAt, size int64) (Identity, bool, error) {
	if ok, err := sentencepiece.Is(r, size); err != nil {
		return Identity{}, false, err
	} else if ok {
		return Identity{Role: Inert, Format: formats.FormatSentencePiece, Why: "SentencePiece tokenizer model"}, true, nil
	}
	f, err := media.Identify(r, size)
	if err != nil {
		return Identity{Format: f}, true, err
	}
	if f == formats.FormatUnknown {
		return Identity{}, false, nil
	}
	return Identity{Role: Inert, Format: f, Why: fmt.Sprintf("%s file, not model weights", f)}, true, nil
}

// hdf5Signature starts an HDF5 superblock.
const hdf5Signature = "\x89HDF\r\n\x1a\n"

// secondReading refuses content that another loader would read as
// something else, whatever it starts with: a zip archive whose end record
// lies in the last 64 KiB (zipfile, torch's miniz and archive/zip look for
// it there, and zipfile allows for data before the archive), and an HDF5
// superblock at any offset the HDF5 library searches (0, 512, 1024, 2048,
// and so on: h5py opens the file, and Keras builds an .h5 model's
// config). A pickle from byte 0 is pickle.Classify's, which ran first.
func secondReading(r io.ReaderAt, size int64, lim formats.Limits) error {
	end, err := strictzip.EndRecord(r, size)
	if err != nil {
		return err
	}
	if end >= 0 {
		v := pickle.ClassifyZip(r, size, lim)
		if v.Pickle || v.Format == formats.FormatKeras {
			e := v.Refusal()
			e.Msg = fmt.Sprintf("content has a zip archive's end record at byte %d, which zipfile opens: %s", end, e.Msg)
			return e
		}
		what := "an npz archive"
		if e := v.Refusal(); e != nil {
			what = e.Msg
		}
		return formats.Errorf(formats.KindMalformed, end, "content has a zip archive's end record at byte %d although it does not start as one: zipfile and torch's miniz would open the archive it describes (%s), a second reading of the file", end, what)
	}
	sig := make([]byte, len(hdf5Signature))
	for off := int64(512); off <= size-int64(len(sig)) && off > 0; off *= 2 {
		if _, err := r.ReadAt(sig, off); err != nil && err != io.EOF {
			return formats.IOError(off, err)
		}
		if string(sig) == hdf5Signature {
			return pickle.Verdict{Format: formats.FormatHDF5, Detail: fmt.Sprintf("an HDF5 superblock at byte %d, where h5py looks for one", off)}.Refusal()
		}
	}
	return nil
}
