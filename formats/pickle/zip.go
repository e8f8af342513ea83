package pickle

import (
	"strings"

	"io"

	"github.com/modelgate/modelgate/formats"
)

// ClassifyZip classifies r (size bytes) as the zip archive a zip reader
// would find in it, whatever it starts with: formats/content asks it
// about a file that does not start as a zip but has an archive's end
// record near its end, which zipfile opens (allowing for data prepended
// to the archive).
func ClassifyZip(r io.ReaderAt, size int64, lim formats.Limits) Verdict {
	return classifyZip(r, size, lim)
}

// isKerasMember reports a member Keras reads by its exact name at the
// archive's root (keras.saving.saving_lib: config.json, from which it
// builds the model first, and metadata.json), whatever the weights store
// (model.weights.h5 or model.weights.npz). zipfile cuts a name at its
// first NUL, so a name is compared up to there.
func isKerasMember(name string) bool {
	name, _, _ = strings.Cut(name, "\x00")
	return name == "config.json" || name == "metadata.json"
}
