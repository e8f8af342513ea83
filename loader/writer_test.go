package loader_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
)

// TestHelperWriter is the second process of TestVerifiedBytesSurviveWriters:
// it rewrites one byte deep in a file and restores the mtime, or truncates
// the file.
func TestHelperWriter(t *testing.T) {
	p, action := os.Getenv("MODELGATE_WRITER_PATH"), os.Getenv("MODELGATE_WRITER_ACTION")
	if p == "" {
		t.Skip("run as a helper process only")
	}
	st, err := os.Stat(p)
	require.NoError(t, err)
	switch action {
	case "rewrite":
		f, err := os.OpenFile(p, os.O_WRONLY, 0) // blocks until the holder releases its lease
		require.NoError(t, err)
		off, _ := strconv.ParseInt(os.Getenv("MODELGATE_WRITER_OFFSET"), 10, 64)
		_, err = f.WriteAt([]byte{0xEE}, off)
		require.NoError(t, err)
		require.NoError(t, f.Close())
		require.NoError(t, os.Chtimes(p, st.ModTime(), st.ModTime()))
	case "truncate":
		require.NoError(t, os.Truncate(p, 0))
	}
}

// TestVerifiedBytesSurviveWriters: while a consumer reads a loaded model,
// another process rewrites a byte deep in a file (mtime restored) or
// truncates it. In every mode the consumer sees the verified bytes or a
// clean error: never a crash (a truncated mapping faults) and never the
// changed bytes (issue 13, finding 8).
func TestVerifiedBytesSurviveWriters(t *testing.T) {
	const size = 8 << 20
	data := bytes.Repeat([]byte{0x11}, size)
	hdr := `{"w":{"dtype":"U8","shape":[` + strconv.Itoa(size) + `],"data_offsets":[0,` + strconv.Itoa(size) + `]}}`
	file := append(append([]byte{byte(len(hdr)), 0, 0, 0, 0, 0, 0, 0}, hdr...), data...)
	deep := int64(len(file) - 4096)
	for _, mode := range []loader.Mode{loader.ModeMap, loader.ModeReadAt, loader.ModePrivateCopy} {
		for _, action := range []string{"rewrite", "truncate"} {
			t.Run(mode.String()+"/"+action, func(t *testing.T) {
				p := filepath.Join(t.TempDir(), "model.safetensors")
				writeFile(t, p, file)
				m, err := loader.Open(ctx, p, loader.WithMode(mode))
				require.NoError(t, err)
				defer m.Close()
				assert.Empty(t, m.Verified.Rehashed, "a lease was taken")

				cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$")
				cmd.Env = append(os.Environ(), "MODELGATE_WRITER_PATH="+p, "MODELGATE_WRITER_ACTION="+action,
					"MODELGATE_WRITER_OFFSET="+strconv.FormatInt(deep, 10))
				require.NoError(t, cmd.Start())
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				deadline := time.After(20 * time.Second)
				for finished := false; !finished; {
					select {
					case err := <-done:
						require.NoError(t, err, "the writer")
						finished = true
					case <-deadline:
						t.Fatal("the writer did not finish: the lease was not released")
					default:
					}
					checkTensor(t, m, mode, data)
				}
				checkTensor(t, m, mode, data)
				if action == "rewrite" {
					now, err := os.ReadFile(p)
					require.NoError(t, err)
					assert.Equal(t, byte(0xEE), now[deep], "the writer did change the file")
				}
			})
		}
	}
}

// checkTensor reads the tensor as a consumer would: the verified bytes,
// or (read-at mode, once the file changed) a clean error.
func checkTensor(t *testing.T, m *loader.Model, mode loader.Mode, want []byte) {
	t.Helper()
	if mode != loader.ModeReadAt {
		b, err := m.Bytes("w")
		require.NoError(t, err)
		require.True(t, bytes.Equal(want, b), "Bytes changed under the consumer")
	}
	sr, err := m.Section("w")
	require.NoError(t, err)
	got := make([]byte, len(want))
	if _, err := sr.ReadAt(got, 0); err != nil {
		require.Equal(t, loader.ModeReadAt, mode, "only read-at mode may fail: %v", err)
		assert.Equal(t, formats.KindIO, formats.KindOf(err))
		return
	}
	require.True(t, bytes.Equal(want, got), "Section read changed bytes")
}
