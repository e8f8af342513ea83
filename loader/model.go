package loader

import (
	"errors"
	"io"
	"sync"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/gguf"
	"github.com/modelgate/modelgate/verify"
)

// Model is a verified, parsed model: one file or a directory. Its tensors'
// bytes are the bytes that were hashed and parsed. Close releases the
// mappings; no slice from Bytes may be used after it.
type Model struct {
	Path     string       // as given to Open
	Files    []*ModelFile // loaded weight files, by name
	Tensors  []ModelTensor
	Verified Verified
	byName   map[string]int
	mu       sync.Mutex // guards closers: files are held in parallel
	closers  []func() error
}

// addCloser registers f to run at Close.
func (m *Model) addCloser(f func() error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closers = append(m.closers, f)
}

// OnClose runs f when the model is closed (loader/oci removes the
// directory it unpacked into).
func (m *Model) OnClose(f func() error) { m.addCloser(f) }

// ModelFile is one loaded weight file.
type ModelFile struct {
	Name     string         `json:"name"` // relative to the model directory (a file: its base name)
	Size     int64          `json:"size"`
	SHA256   *verify.Digest `json:"sha256,omitempty"` // when a check needed it
	BLAKE3   *verify.Digest `json:"blake3,omitempty"` // when a check needed it
	Format   formats.Format `json:"format"`
	Metadata map[string]string
	parsed   *File
}

// ModelTensor is a tensor and the file it is in.
type ModelTensor struct {
	Tensor
	File string `json:"file"`
}

// Verified says what Open checked.
type Verified struct {
	Mode        string              `json:"mode"`              // map, read-at or private-copy
	Allowlisted bool                `json:"allowlisted"`       // every loaded file approved by digest
	Digests     []verify.FileDigest `json:"digests,omitempty"` // of every file hashed
	Signer      string              `json:"signer,omitempty"`  // the identity or key that signed
	Profile     string              `json:"profile,omitempty"` // mlx when applied
	Ignored     []string            `json:"ignored,omitempty"` // files not loaded, and why
	// Rehashed lists the files no read lease protects (another process
	// has the file open for writing, it is not this user's, or the model
	// holds more than 256 weight files): they are read through the
	// digests of their chunks, computed when they were held, and every
	// read is checked against them (see Mode).
	Rehashed []string `json:"rehashed,omitempty"`
	// CacheBlobs lists the files of a Hugging Face cache snapshot whose
	// content matched the sha256 their Git LFS blob's name states.
	CacheBlobs []string `json:"cache_blobs,omitempty"`
}

// Tensor returns the tensor named name.
func (m *Model) Tensor(name string) (ModelTensor, bool) {
	i, ok := m.byName[name]
	if !ok {
		return ModelTensor{}, false
	}
	return m.Tensors[i], true
}

func (m *Model) file(t ModelTensor) *File {
	for _, f := range m.Files {
		if f.Name == t.File {
			return f.parsed
		}
	}
	return nil
}

// Bytes returns the named tensor's bytes as stored, without copying (from
// the read-only mapping or private copy). It fails in ModeReadAt and for
// files no lease protects (Verified.Rehashed).
func (m *Model) Bytes(name string) ([]byte, error) {
	t, ok := m.Tensor(name)
	if !ok {
		return nil, errors.New("no tensor " + name)
	}
	b, ok := m.file(t).Bytes(t.Name)
	if !ok {
		return nil, errors.New("tensor bytes are not in memory (ModeReadAt, or a file in Verified.Rehashed); use Section")
	}
	return b, nil
}

// Section returns a reader of the named tensor's bytes as stored.
func (m *Model) Section(name string) (*io.SectionReader, error) {
	t, ok := m.Tensor(name)
	if !ok {
		return nil, errors.New("no tensor " + name)
	}
	sr, _ := m.file(t).Section(t.Name)
	return sr, nil
}

// Close releases every mapping and file.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for i := len(m.closers) - 1; i >= 0; i-- {
		errs = append(errs, m.closers[i]())
	}
	m.closers = nil
	return errors.Join(errs...)
}

// GGUF returns a GGUF file's parsed header (every metadata pair), or nil
// for another format.
func (mf *ModelFile) GGUF() *gguf.File { return mf.parsed.GGUF() }
