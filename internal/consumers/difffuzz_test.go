package consumers_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats/gguf"
	"github.com/modelgate/modelgate/internal/consumers"
	"github.com/modelgate/modelgate/internal/ggufwrite"
)

var (
	diffFuzzTime = flag.Duration("difffuzz", 2*time.Second, "how long TestDifferentialFuzz runs per format (.ci/run: 20s)")
	diffFuzzSeed = flag.Uint64("difffuzz.seed", 0, "the random seed of TestDifferentialFuzz (0: from the clock, logged)")
)

// batch is how many accepted inputs go to the readers at a time.
const batch = 64

// TestDifferentialFuzz makes inputs for each format, from its accepted
// fixtures and (GGUF) a generator, by mutation; those modelgate accepts
// go in batches to the format's real readers, long-lived processes, and
// must be read exactly as modelgate reads them. It runs -difffuzz per
// format. An input a reader reads otherwise is saved under
// testdata/difffuzz/ for a fixture to be made of it.
func TestDifferentialFuzz(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: .ci/run runs it on its own, with -difffuzz 20s")
	}
	seed := *diffFuzzSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("-difffuzz.seed=%d", seed)
	for _, tc := range []struct {
		format  string
		readers func(testing.TB) []*consumers.Reader
		gen     func(*rand.Rand) []byte
	}{
		{"gguf", func(t testing.TB) []*consumers.Reader { return present(consumers.GGML(t), consumers.HFGGUF(t)) }, genGGUF},
		{"npy", func(t testing.TB) []*consumers.Reader { return present(consumers.NumPy(t)) }, genNpy},
	} {
		t.Run(tc.format, func(t *testing.T) {
			readers := tc.readers(t)
			if len(readers) == 0 {
				t.Skip("no reader of " + tc.format + " installed")
			}
			seeds := acceptedSeeds(t, tc.format)
			rng := rand.New(rand.NewPCG(seed, 0))
			dir := t.TempDir()
			deadline := time.Now().Add(*diffFuzzTime)
			tried, accepted := 0, 0
			for time.Now().Before(deadline) {
				var paths []string
				var mine []consumers.Reading
				for len(paths) < batch && time.Now().Before(deadline) {
					var b []byte
					if rng.IntN(2) == 0 {
						b = tc.gen(rng)
					} else {
						b = bytes.Clone(seeds[rng.IntN(len(seeds))])
					}
					for n := rng.IntN(4); n > 0; n-- {
						b = mutate(rng, b)
					}
					tried++
					p := filepath.Join(dir, fmt.Sprintf("%d%s", len(paths), extension(tc.format, b)))
					require.NoError(t, os.WriteFile(p, b, 0o600))
					verdict, r := modelgateReading(p)
					if verdict != "accept" {
						continue
					}
					r.Normalise(p, tc.format == "gguf")
					paths, mine = append(paths, p), append(mine, r)
				}
				accepted += len(paths)
				for _, rd := range readers {
					for i, p := range paths {
						got := rd.Read(p)
						got.Normalise(p, tc.format == "gguf")
						d := consumers.Diff(mine[i], got)
						if d != "" {
							t.Errorf("modelgate accepts %s, and %s reads it otherwise: %s", keep(t, p), rd.Name, d)
						}
					}
				}
			}
			t.Logf("%s: %d inputs, %d accepted and read by %d readers", tc.format, tried, accepted, len(readers))
		})
	}
}

// keep copies a disagreeing input to testdata/difffuzz and returns its path.
func keep(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	sum := sha256.Sum256(b)
	dst := filepath.Join("testdata", "difffuzz", hex.EncodeToString(sum[:6])+filepath.Ext(p))
	require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	require.NoError(t, os.WriteFile(dst, b, 0o644))
	return dst
}

func acceptedSeeds(t *testing.T, format string) [][]byte {
	var out [][]byte
	for _, x := range fixtures(t) {
		if x.want == "accept" && (x.format == format || (format == "npy" && x.format == "npz")) {
			b, err := os.ReadFile(x.path())
			require.NoError(t, err)
			out = append(out, b)
		}
	}
	require.NotEmpty(t, out, "no accepted %s fixture to seed from", format)
	return out
}

func extension(format string, b []byte) string {
	if format == "npy" && bytes.HasPrefix(b, []byte("PK")) {
		return ".npz"
	}
	return "." + format
}

func present(rs ...*consumers.Reader) []*consumers.Reader {
	var out []*consumers.Reader
	for _, r := range rs {
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

var interesting = []uint64{0, 1, 2, 3, 4, 7, 8, 12, 13, 16, 31, 32, 33, 63, 64, 127, 128, 255, 256, 1 << 16, 1<<31 - 1, 1 << 31, 1<<32 - 1, 1 << 32, 1<<63 - 1, 1 << 63, 1<<64 - 1}

// mutate changes b in one of the ways that find reader differentials:
// a flipped bit, an interesting 1-, 4- or 8-byte integer, a cut, a
// duplicated or deleted span.
func mutate(rng *rand.Rand, b []byte) []byte {
	if len(b) == 0 {
		return []byte{byte(rng.IntN(256))}
	}
	// half of the mutations fall in the first 512 bytes: the headers
	at := rng.IntN(len(b))
	if rng.IntN(2) == 0 {
		at = rng.IntN(min(len(b), 512))
	}
	switch rng.IntN(7) {
	case 0:
		b[at] ^= 1 << rng.IntN(8)
	case 1:
		b[at] = byte(interesting[rng.IntN(len(interesting))])
	case 2, 3:
		v := interesting[rng.IntN(len(interesting))]
		w := 4 << rng.IntN(2)
		for i := 0; i < w && at+i < len(b); i++ {
			b[at+i] = byte(v >> (8 * i))
		}
	case 4:
		return b[:at]
	case 5:
		n := rng.IntN(min(64, len(b)-at)) + 1
		return append(b[:at:at], append(bytes.Clone(b[at:at+n]), b[at:]...)...)
	case 6:
		n := rng.IntN(min(64, len(b)-at)) + 1
		return append(b[:at:at], b[at+n:]...)
	}
	return b
}

// ggml types the generator writes: bytes per block, elements per block.
var genTypes = []struct {
	t            gguf.Type
	bytes, elems int64
}{{0, 4, 1}, {1, 2, 1}, {2, 18, 32}, {3, 20, 32}, {8, 34, 32}, {24, 1, 1}, {25, 2, 1}, {26, 4, 1}, {27, 8, 1}, {28, 8, 1}, {30, 2, 1}}

// genGGUF writes a valid GGUF file of random metadata and tensors, whose
// strings hold the bytes readers are known to treat differently (NUL,
// invalid UTF-8, control characters).
func genGGUF(rng *rand.Rand) []byte {
	f := ggufwrite.File{Version: uint32(2 + rng.IntN(2))}
	if rng.IntN(3) == 0 {
		f.Align = int64(1) << rng.IntN(9)
		f.KVs = append(f.KVs, ggufwrite.KV{Key: "general.alignment", VT: gguf.Uint32, Val: uint32(f.Align)})
	}
	used := map[string]bool{"general.alignment": true}
	for n := rng.IntN(6); n > 0; n-- {
		k := genString(rng, true)
		if used[k] {
			continue
		}
		used[k] = true
		f.KVs = append(f.KVs, genKV(rng, k))
	}
	names := map[string]bool{}
	for n := rng.IntN(4); n > 0; n-- {
		name := genString(rng, true)
		if names[name] {
			continue
		}
		names[name] = true
		gt := genTypes[rng.IntN(len(genTypes))]
		dims := []uint64{uint64(gt.elems * int64(1+rng.IntN(3)))}
		for d := rng.IntN(4); d > 0; d-- {
			dims = append(dims, uint64(1+rng.IntN(3)))
		}
		n := int64(1)
		for _, d := range dims {
			n *= int64(d)
		}
		f.Tensors = append(f.Tensors, ggufwrite.Tensor{Name: name, Dims: dims, Type: gt.t, Size: n / gt.elems * gt.bytes, Offset: -1})
	}
	return f.Build()
}

func genString(rng *rand.Rand, key bool) string {
	alphabets := []string{"abcdefghijklmnopqrstuvwxyz._0123456789", "é日\x00\xff\xc3\x1b\n\"\\ "}
	var s strings.Builder
	for n := 1 + rng.IntN(12); n > 0; n-- {
		a := alphabets[0]
		if rng.IntN(8) == 0 || (!key && rng.IntN(3) == 0) {
			a = alphabets[1]
		}
		s.WriteByte(a[rng.IntN(len(a))])
	}
	return s.String()
}

func genKV(rng *rand.Rand, k string) ggufwrite.KV {
	switch rng.IntN(8) {
	case 0:
		return ggufwrite.KV{Key: k, VT: gguf.String, Val: genString(rng, false)}
	case 1:
		return ggufwrite.KV{Key: k, VT: gguf.Float32, Val: rng.Float32() * 1e6}
	case 2:
		return ggufwrite.KV{Key: k, VT: gguf.Float64, Val: rng.NormFloat64()}
	case 3:
		return ggufwrite.KV{Key: k, VT: gguf.Bool, Val: byte(rng.IntN(2))}
	case 4:
		return ggufwrite.KV{Key: k, VT: gguf.Int64, Val: int64(rng.Uint64())}
	case 5:
		return ggufwrite.KV{Key: k, VT: gguf.Uint64, Val: rng.Uint64()}
	case 6:
		vals := make([]string, rng.IntN(4))
		for i := range vals {
			vals[i] = genString(rng, false)
		}
		return ggufwrite.KV{Key: k, VT: gguf.Array, Elem: gguf.String, Val: vals}
	}
	vals := make([]int32, rng.IntN(5))
	for i := range vals {
		vals[i] = int32(rng.Uint32())
	}
	return ggufwrite.KV{Key: k, VT: gguf.Array, Elem: gguf.Int32, Val: vals}
}

// genNpy writes an .npy file as numpy's writer lays it out, with a random
// descr, shape and order.
func genNpy(rng *rand.Rand) []byte {
	descrs := []string{"<f4", "<f2", "<f8", "<i8", "<i4", "<i2", "|i1", "|u1", "|b1", "<u2", "<u4", "<u8", "<c8", ">f4", ">i8", ">u2"}
	descr := descrs[rng.IntN(len(descrs))]
	dims := make([]string, rng.IntN(4))
	n := 1
	for i := range dims {
		d := rng.IntN(4)
		dims[i] = fmt.Sprint(d)
		n *= d
	}
	shape := "(" + strings.Join(dims, ", ") + ")"
	if len(dims) == 1 {
		shape = "(" + dims[0] + ",)"
	}
	fortran := "False"
	if rng.IntN(3) == 0 {
		fortran = "True"
	}
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr, fortran, shape)
	pad := 64 - (10+len(h)+1)%64
	if (10+len(h)+1)%64 == 0 {
		pad = 0
	}
	h += strings.Repeat(" ", pad) + "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	b.Write([]byte{byte(len(h)), byte(len(h) >> 8)})
	b.WriteString(h)
	w := int(descr[2] - '0')
	data := make([]byte, n*w)
	for i := range data {
		data[i] = byte(rng.IntN(256))
	}
	b.Write(data)
	return b.Bytes()
}
