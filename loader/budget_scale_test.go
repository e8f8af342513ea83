package loader_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
	"github.com/modelgate/modelgate/verify"
)

// childConstraints applies a row's conditions to its child: a lowered
// descriptor limit, and no read leases (a user who does not own the
// files: the k8s example's non-root initContainer on a model volume).
func childConstraints(t *testing.T) {
	if n, _ := strconv.ParseUint(os.Getenv("MODELGATE_BUDGET_NOFILE"), 10, 64); n > 0 {
		require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: n, Max: n}))
	}
	if os.Getenv("MODELGATE_BUDGET_NOLEASE") == "true" {
		loader.WithoutLeasesForTest()
	}
}

// lowFDs is the descriptor limit the rows of many files run under: far
// below their file count (issue 25, finding 5: inspect kept every file
// open and failed at 20,000).
const lowFDs = 512

// scaledInputs writes the inputs of issue 25, each scaled along the
// dimension an attacker controls: a declared size or count that the file
// does not back, the number of files, the size of a file no lease
// protects. Each dimension's rows must cost the same memory at every
// scale (budgetGrowth), so that the next larger input is no threat either.
func scaledInputs(t *testing.T, dir string) []budgetInput {
	var out []budgetInput
	add := func(dim, name, op, want string, b []byte, size int64) budgetInput {
		p := filepath.Join(dir, fmt.Sprintf("%s-%d", dim, len(out)))
		writeSparse(t, p, b, size)
		in := budgetInput{name: name, path: p, op: op, want: want, dim: dim}
		out = append(out, in)
		return in
	}
	// Finding 1: a one-entry npz declaring a central directory of up to
	// 1 GiB (a sparse file), through Open and through scan.
	for _, declared := range []int64{1 << 20, 64 << 20, 1 << 30} {
		head, tail, cdOff := directoryBomb(t, declared)
		in := add("zip-directory", fmt.Sprintf("npz declaring a %d MiB central directory", declared>>20), "open", "malformed", head, cdOff+declared+int64(len(tail)))
		writeAt(t, in.path, tail, cdOff+declared)
		if declared == 1<<30 {
			out = append(out, budgetInput{name: "scan of the same npz", path: in.path, op: "scan", want: "malformed"})
		}
	}
	// Declared lengths the file does not back: each refused from the
	// length, before anything is allocated for it.
	for _, n := range []uint32{1 << 20, 1 << 26, formats.DefaultMaxHeaderBytes} {
		b := binary.LittleEndian.AppendUint64(nil, uint64(n))
		add("safetensors-header", fmt.Sprintf("safetensors declaring a %d-byte header in 1 KiB", n), "open", "malformed", append(b, bytes.Repeat([]byte("{"), 1016)...), 1024)
	}
	for _, n := range []uint32{formats.DefaultMaxNpyHeaderBytes + 1, 1 << 24, 1<<32 - 1} {
		b := binary.LittleEndian.AppendUint32([]byte("\x93NUMPY\x02\x00"), n)
		add("npy-header", fmt.Sprintf("npy declaring a %d-byte header", n), "open", "limit-exceeded", append(b, bytes.Repeat([]byte(" "), 500)...), 512)
	}
	for _, n := range []uint64{1 << 25, 1 << 32, 1 << 62} { // past MaxMetadataBytes
		add("gguf-string", fmt.Sprintf("gguf declaring a %d-byte metadata string", n), "open", "limit-exceeded", ggufDeclaring(n, 0), 4096)
	}
	for _, n := range []uint64{1 << 17, 1 << 32, 1 << 62} { // past MaxTensors
		add("gguf-tensors", fmt.Sprintf("gguf declaring %d tensors", n), "open", "limit-exceeded", ggufDeclaring(0, n), 4096)
	}
	// Finding 3: a file no lease protects, up to 256 MiB, verified as the
	// k8s example's initContainer does (non-root on a model volume: map
	// mode, a digest allowlist, the MLX profile): no private copy.
	for _, size := range []int64{16 << 20, 64 << 20, 256 << 20} {
		hdr := fmt.Sprintf(`{"w":{"dtype":"U8","shape":[%d],"data_offsets":[0,%d]}}`, size, size)
		head := append(binary.LittleEndian.AppendUint64(nil, uint64(len(hdr))), hdr...)
		add("no-lease-size", fmt.Sprintf("%d MiB safetensors without a read lease, verified as the k8s example does", size>>20), "k8s", "accept", head, int64(len(head))+size)
		out[len(out)-1].noLease = true
	}
	// Finding 5: many small files under a low descriptor limit; one holds
	// weights, the rest are inert.
	for _, n := range []int{1_000, 10_000, 100_000} {
		d := filepath.Join(dir, fmt.Sprintf("files-%d", n))
		require.NoError(t, os.Mkdir(d, 0o755))
		writeFile(t, filepath.Join(d, "model.safetensors"), stFile(t, formats.U8, "w"))
		for i := range n - 1 {
			writeFile(t, filepath.Join(d, fmt.Sprintf("note-%06d.txt", i)), []byte("notes\n"))
		}
		out = append(out, budgetInput{name: fmt.Sprintf("%d small files at RLIMIT_NOFILE=%d", n, lowFDs), path: d, op: "open", want: "accept", nofile: lowFDs, dim: "files", units: n})
	}
	for _, n := range []int{300, 3_000} {
		d := filepath.Join(dir, fmt.Sprintf("weights-%d", n))
		require.NoError(t, os.Mkdir(d, 0o755))
		for i := range n {
			writeFile(t, filepath.Join(d, fmt.Sprintf("w%05d.safetensors", i)), stFile(t, formats.U8, fmt.Sprintf("w%d", i)))
		}
		out = append(out, budgetInput{name: fmt.Sprintf("%d weight files at RLIMIT_NOFILE=%d", n, lowFDs), path: d, op: "open", want: "accept", nofile: lowFDs, dim: "weight-files", units: n})
	}
	return out
}

// directoryBomb returns a one-entry npz's bytes up to the end of its
// central directory, and an end record declaring the directory to be
// declared bytes long: zeros are to lie between them.
func directoryBomb(t *testing.T, declared int64) (head, tail []byte, cdOff int64) {
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	w, err := z.CreateHeader(&zip.FileHeader{Name: "a.npy", Method: zip.Store})
	require.NoError(t, err)
	w.Write(npyWith("{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }", nil))
	require.NoError(t, z.Close())
	b := buf.Bytes()
	end := b[len(b)-22:]
	var cdSize int64
	cdOff, cdSize = int64(binary.LittleEndian.Uint32(end[16:])), int64(binary.LittleEndian.Uint32(end[12:]))
	tail = bytes.Clone(end)
	binary.LittleEndian.PutUint32(tail[12:], uint32(declared))
	return b[:cdOff+cdSize], tail[:22], cdOff
}

// ggufDeclaring is a GGUF v3 header declaring n tensors, or one metadata
// string of strLen bytes.
func ggufDeclaring(strLen, tensors uint64) []byte {
	b := binary.LittleEndian.AppendUint32([]byte("GGUF"), 3)
	b = binary.LittleEndian.AppendUint64(b, tensors)
	if strLen == 0 {
		return binary.LittleEndian.AppendUint64(b, 0)
	}
	b = binary.LittleEndian.AppendUint64(b, 1)
	b = binary.LittleEndian.AppendUint64(b, 12)
	b = append(b, "general.name"...)
	b = binary.LittleEndian.AppendUint32(b, 8) // string
	return binary.LittleEndian.AppendUint64(b, strLen)
}

// writeSparse writes b at the start of a file of size bytes (the rest a
// hole).
func writeSparse(t *testing.T, p string, b []byte, size int64) {
	writeFile(t, p, b)
	require.NoError(t, os.Truncate(p, max(size, int64(len(b)))))
}

func writeAt(t *testing.T, p string, b []byte, off int64) {
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(b, off)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// budgetGrowth checks that memory does not grow along a dimension: the
// peak RSS of its largest row is within slack of its smallest, plus
// perUnitRSS a unit along a dimension that may grow linearly.
type budgetGrowth struct {
	rows map[string][]int64
	ins  map[string][]budgetInput
}

// The cost of one more file, which Open must identify (an open, a read, a
// lease, a close) and list in Verified: linear, measured at about 40 us of
// CPU (the machine loaded) and 0.8 KiB a file.
const (
	growthSlack = 32 << 20
	perUnitRSS  = 2 << 10
	perUnitCPU  = 50 * time.Microsecond
)

func (g *budgetGrowth) add(t *testing.T, in budgetInput, rss int64) {
	if in.dim == "" {
		return
	}
	if g.rows == nil {
		g.rows = map[string][]int64{}
	}
	if g.ins == nil {
		g.ins = map[string][]budgetInput{}
	}
	g.rows[in.dim] = append(g.rows[in.dim], rss)
	g.ins[in.dim] = append(g.ins[in.dim], in)
}

func (g *budgetGrowth) check(t *testing.T) {
	for dim, rss := range g.rows {
		first, last := rss[0], rss[len(rss)-1]
		ins := g.ins[dim]
		units := int64(ins[len(ins)-1].units - ins[0].units)
		t.Logf("%s: peak RSS %d MiB at the smallest scale, %d MiB at the largest", dim, first>>20, last>>20)
		assert.Less(t, last-first, (growthSlack+units*perUnitRSS)*raceOverhead, "%s: memory grows with what the attacker controls", dim)
	}
}

// openAsK8s opens p as examples/k8s's initContainer verifies its model:
// map mode (the default), every file approved by SHA-256, the MLX
// profile. The digest is computed here, in the child, before Open.
func openAsK8s(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		return err
	}
	d, err := verify.ParseDigest(hex.EncodeToString(h.Sum(nil)))
	if err != nil {
		return err
	}
	a, err := verify.NewAllowlist(verify.NewEntry("", verify.SHA256, d))
	if err != nil {
		return err
	}
	m, err := loader.Open(context.Background(), p, loader.WithAllowlist(a), loader.WithProfile(loader.ProfileMLX), loader.WithMode(loader.ModeMap))
	if err == nil {
		m.Close()
	}
	return err
}
