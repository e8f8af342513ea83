package loader_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/verify"
)

// TestSeveralFormatsRefusedWholeNamingWhatLoads: a repository that ships
// model.safetensors beside a pickle pytorch_model.bin, tf_model.h5 and
// flax_model.msgpack (as many on Hugging Face do) is refused whole, since
// a consumer may load any of them; the refusal has the kind of the most
// severe file (not the first in name order) and a *SeveralFormatsError
// naming the files that load and those that do not (issue 22, finding 6).
func TestSeveralFormatsRefusedWholeNamingWhatLoads(t *testing.T) {
	st := testdata(t, "safetensors/tiny-mlp.safetensors")
	pickle := testdata(t, "pickle/torch-zip.pt")
	h5 := append([]byte("\x89HDF\r\n\x1a\n"), make([]byte, 64)...)
	msgpack := []byte("\x81\xa6params\x81\xa6kernel\xc4\x04\x00\x00\x80\x3f") // a map, as flax.serialization writes
	for _, tc := range []struct {
		name    string
		files   map[string][]byte
		kind    formats.Kind
		path    string   // the file the refusal names
		loads   []string // nil: no SeveralFormatsError
		refused []string
	}{
		{"the four formats of a transformers repository", map[string][]byte{
			"model.safetensors": st, "pytorch_model.bin": pickle, "tf_model.h5": h5, "flax_model.msgpack": msgpack, "config.json": []byte(`{"model_type":"bert"}`),
		}, formats.KindPickle, "pytorch_model.bin", []string{"model.safetensors"}, []string{"flax_model.msgpack", "pytorch_model.bin", "tf_model.h5"}},
		{"no pickle: the unsupported format before the unknown one", map[string][]byte{
			"model.safetensors": st, "tf_model.h5": h5, "flax_model.msgpack": msgpack,
		}, formats.KindUnsupported, "tf_model.h5", []string{"model.safetensors"}, []string{"flax_model.msgpack", "tf_model.h5"}},
		{"shards beside a pickle", map[string][]byte{
			"a/model-1.safetensors": st, "b.npz": testdata(t, "npz/savez.npz"), "pytorch_model.bin": pickle,
		}, formats.KindPickle, "pytorch_model.bin", []string{"a/model-1.safetensors", "b.npz"}, []string{"pytorch_model.bin"}},
		{"nothing that loads: a plain refusal", map[string][]byte{
			"pytorch_model.bin": pickle, "flax_model.msgpack": msgpack,
		}, formats.KindPickle, "pytorch_model.bin", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, b := range tc.files {
				writeFile(t, filepath.Join(dir, name), b)
			}
			_, err := loader.Open(ctx, dir)
			require.Error(t, err)
			assert.Equal(t, tc.kind, formats.KindOf(err), "%v", err)
			var fe *formats.Error
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tc.path, fe.Path)
			var several *loader.SeveralFormatsError
			if tc.loads == nil {
				assert.False(t, errors.As(err, &several), "%v", err)
				return
			}
			require.ErrorAs(t, err, &several)
			assert.Equal(t, tc.loads, several.Loads)
			assert.Equal(t, tc.refused, several.Refused)
			assert.Contains(t, err.Error(), "the model ships several formats: ")
		})
	}
}

// TestOpenReportsTheMostSevereRefusal: a model is refused for its worst
// file whatever the order of names, a file over max_file_bytes or a hard
// link included (formats.KindsBySeverity).
func TestOpenReportsTheMostSevereRefusal(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.bin"), testdata(t, "safetensors/tiny-mlp.safetensors")) // over the limit below
	writeFile(t, filepath.Join(dir, "b.dat"), []byte{0, 1, 2, 3, 0xff})                        // unknown-format
	writeFile(t, filepath.Join(dir, "c.pkl"), testdata(t, "pickle/proto4.pkl"))
	p, err := verify.ParsePolicy([]byte("limits: {max_file_bytes: 1000}\n"), dir)
	require.NoError(t, err)
	_, err = loader.Open(ctx, dir, loader.WithPolicy(p))
	assert.Equal(t, formats.KindPickle, formats.KindOf(err), "%v", err)
	var fe *formats.Error
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "c.pkl", fe.Path)
}
