package loader_test

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/npy"
	"github.com/modelgate/modelgate/loader"
)

// mlxReading is what MLX's npy reader takes from a file.
type mlxReading struct {
	descr   string
	fortran bool
	shape   []int64
	offset  int64
}

// mlxRead transcribes load() of mlx/io/load.cpp at ml-explore/mlx 846d176:
// it reads the header by position, as MLX does, so that tests can ask
// whether MLX would read a file as numpy does. The header is the whole
// header_len bytes (std::string header(buffer.data(), header_len): a NUL
// no longer cuts it, as std::string(&buffer[0]) did before), and each
// dimension is std::stoi's int (out_of_range past int32).
func mlxRead(b []byte) (mlxReading, error) {
	if len(b) < 10 || string(b[:6]) != npy.Magic || (b[6] != 1 && b[6] != 2) {
		return mlxReading{}, errors.New("Unsupported npy format version")
	}
	lenSize, n := 2, int(binary.LittleEndian.Uint16(b[8:]))
	if b[6] == 2 {
		lenSize, n = 4, int(binary.LittleEndian.Uint32(b[8:]))
	}
	h := string(b[8+lenSize : 8+lenSize+n])
	if len(h) < 35 {
		return mlxReading{}, errors.New("short header")
	}
	r := mlxReading{descr: h[11:14], fortran: h[34] == 'T', offset: int64(8 + lenSize + len(h))}
	st, ed := strings.LastIndexByte(h, '(')+1, strings.LastIndexByte(h, ')')
	if st <= 0 || ed < st {
		return mlxReading{}, errors.New("no shape")
	}
	s := h[st:ed]
	for s != "" {
		pos := 0
		for pos < len(s) && (s[pos] == ' ' || s[pos] == '-' || s[pos] == '+' || s[pos] >= '0' && s[pos] <= '9') {
			pos++
		}
		dim, err := strconv.ParseInt(strings.TrimLeft(s[:pos], " "), 10, 32)
		if err != nil {
			return mlxReading{}, err // std::invalid_argument or std::out_of_range
		}
		r.shape = append(r.shape, int64(dim))
		if pos+2 <= len(s) {
			s = s[pos+2:]
		} else {
			if rest := s[pos:]; rest != "" && rest != " " && rest != "," {
				return mlxReading{}, errors.New("Unknown error while parsing header")
			}
			s = ""
		}
	}
	return r, nil
}

// npyWith writes an npy file with the given header dict, padded as numpy
// pads (to 64 bytes), and data.
func npyWith(dict string, data []byte) []byte {
	h := dict
	for (10+len(h)+1)%64 != 0 {
		h += " "
	}
	h += "\n"
	b := append([]byte(npy.Magic), 1, 0, byte(len(h)), byte(len(h)>>8))
	return append(append(b, h...), data...)
}

// TestMLXNpyProfile: under ProfileMLX an npy file is accepted only when
// MLX's positional reader reads it as numpy does, and everything accepted
// is checked against a transcription of that reader (issue 12, case 5).
func TestMLXNpyProfile(t *testing.T) {
	f8 := make([]byte, 8)
	cases := map[string]struct {
		b      []byte
		accept bool
	}{
		"shape without a space after the comma": {npyWith("{'descr': '<f4', 'fortran_order': False, 'shape': (1,2), }", f8), false},
		"keys in another order":                 {npyWith("{'fortran_order': True, 'descr': '<f4', 'shape': (2, 1), }", f8), false},
		"no space after a colon":                {npyWith("{'descr':'<f4', 'fortran_order': True, 'shape': (2, 1), }", f8), false},
		"big-endian complex64":                  {npyWith("{'descr': '>c8', 'fortran_order': False, 'shape': (1,), }", f8), false},
		"numpy's own layout":                    {npyWith("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", f8), true},
		"little-endian float64":                 {npyWith("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", f8), true},
	}
	files, err := filepath.Glob(filepath.Join("..", "testdata", "npy", "*.npy"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		cases["fixture "+filepath.Base(f)] = struct {
			b      []byte
			accept bool
		}{b, filepath.Base(f) != "v3.npy"} // numpy writes them all; MLX refuses version 3.0
	}
	dir := t.TempDir()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, strings.NewReplacer(" ", "_", "'", "").Replace(name)+".npy")
			require.NoError(t, os.WriteFile(p, tc.b, 0o600))
			m, err := loader.Open(ctx, p, loader.WithProfile(loader.ProfileMLX))
			if !tc.accept {
				assert.Equal(t, formats.KindUnsupported, formats.KindOf(err), "%v", err)
				if err != nil {
					assert.Contains(t, err.Error(), "modelgate convert")
				}
				return
			}
			require.NoError(t, err)
			defer m.Close()
			require.Len(t, m.Tensors, 1)
			tn := m.Tensors[0]
			got, err := mlxRead(tc.b)
			require.NoError(t, err, "MLX reads what the profile accepts")
			assert.Equal(t, tn.Descr, got.descr)
			assert.Equal(t, tn.FortranOrder, got.fortran)
			assert.Equal(t, tn.Offset, got.offset, "MLX's data offset")
			assert.True(t, slices.Equal(tn.Shape, got.shape), "shape: numpy %v, MLX %v", tn.Shape, got.shape)
			assert.Equal(t, strings.TrimSuffix(filepath.Base(p), ".npy"), tn.Name, "an npy tensor is named after its file")
		})
	}
	// What the profile refuses for its layout, MLX would indeed misread.
	for name, numpy := range map[string]mlxReading{
		"shape without a space after the comma": {descr: "<f4", shape: []int64{1, 2}},
		"keys in another order":                 {descr: "<f4", fortran: true, shape: []int64{2, 1}},
		"no space after a colon":                {descr: "<f4", fortran: true, shape: []int64{2, 1}},
	} {
		got, err := mlxRead(cases[name].b)
		if err == nil {
			same := got.descr == numpy.descr && got.fortran == numpy.fortran && slices.Equal(got.shape, numpy.shape)
			assert.False(t, same, "%s: MLX reads %+v as numpy does, so the profile should accept it", name, got)
		}
	}
}
