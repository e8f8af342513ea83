package oci_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader/oci"
)

// ustar returns one ustar header block, checksummed.
func ustar(name string, typ byte, size int64, link string) []byte {
	b := make([]byte, 512)
	copy(b[0:100], name)
	octal := func(off, n int, v int64) { copy(b[off:off+n], fmt.Sprintf("%0*o\x00", n-1, v)) }
	octal(100, 8, 0o644)
	octal(108, 8, 0)
	octal(116, 8, 0)
	octal(124, 12, size)
	octal(136, 12, 0)
	b[156] = typ
	copy(b[157:257], link)
	copy(b[257:263], "ustar\x00")
	copy(b[263:265], "00")
	copy(b[148:156], "        ")
	var sum int64
	for _, c := range b {
		sum += int64(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// pad512 pads b to a whole number of 512-byte blocks.
func pad512(b []byte) []byte {
	if r := len(b) % 512; r != 0 {
		b = append(b, make([]byte, 512-r)...)
	}
	return b
}

// paxRecords encodes PAX records, in order, as "LEN key=value\n" (the
// length counting itself, as archive/tar's formatPAXRecord computes it).
func paxRecords(kv ...string) []byte {
	var out []byte
	for i := 0; i < len(kv); i += 2 {
		size := len(kv[i]) + len(kv[i+1]) + 3
		size += len(strconv.Itoa(size))
		rec := strconv.Itoa(size) + " " + kv[i] + "=" + kv[i+1] + "\n"
		if len(rec) != size {
			rec = strconv.Itoa(len(rec)) + " " + kv[i] + "=" + kv[i+1] + "\n"
		}
		out = append(out, rec...)
	}
	return out
}

// paxTar writes, byte by byte, a tar of one entry: a PAX extended header
// holding records, then a regular file header for name whose data is
// data, then the end. archive/tar's writer refuses to write GNU.sparse
// records, so the bytes are made by hand.
func paxTar(name string, data []byte, kv ...string) []byte {
	recs := paxRecords(kv...)
	var out []byte
	out = append(out, ustar("PaxHeaders/"+name, tar.TypeXHeader, int64(len(recs)), "")...)
	out = append(out, pad512(recs)...)
	out = append(out, ustar(name, tar.TypeReg, int64(len(data)), "")...)
	out = append(out, pad512(bytes.Clone(data))...)
	return append(out, make([]byte, 1024)...)
}

// PAX sparse entries, in each GNU form (0.0, 0.1, 1.0) and an unknown
// version, and a GNU 'S' sparse entry: archive/tar hands each over as a
// file (checked here), and modelgate refuses it, kind unsupported, as
// other unpackers would expand it to another size or content.
func TestSparseEntriesRefused(t *testing.T) {
	w := safetensors("w")
	n := fmt.Sprint(len(w))
	map10 := pad512([]byte("1\n0\n" + n + "\n"))
	for _, tc := range []struct {
		name string
		tar  []byte
	}{
		{"PAX sparse 0.0", paxTar("m.safetensors", w, "GNU.sparse.size", fmt.Sprint(4*len(w)), "GNU.sparse.numblocks", "1",
			"GNU.sparse.offset", "0", "GNU.sparse.numbytes", n)},
		{"PAX sparse 0.1", paxTar("m.safetensors", w, "GNU.sparse.size", fmt.Sprint(4*len(w)), "GNU.sparse.numblocks", "1",
			"GNU.sparse.map", "0,"+n)},
		{"PAX sparse 1.0", paxTar("GNUSparseFile.0/m.safetensors", append(map10, w...), "GNU.sparse.major", "1", "GNU.sparse.minor", "0",
			"GNU.sparse.name", "m.safetensors", "GNU.sparse.realsize", fmt.Sprint(4*len(w)))},
		{"PAX sparse of an unknown version", paxTar("m.safetensors", w, "GNU.sparse.major", "2", "GNU.sparse.minor", "0")},
		{"GNU sparse 'S'", gnuSparse(t, "m.safetensors", w)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := tar.NewReader(bytes.NewReader(tc.tar))
			hdr, err := tr.Next()
			require.NoError(t, err, "archive/tar hands the entry over")
			_, err = io.Copy(io.Discard, tr)
			require.NoError(t, err)
			t.Logf("archive/tar reads %q, %d bytes, type %q", hdr.Name, hdr.Size, hdr.Typeflag)

			a := newModelPack()
			a.layer("application/vnd.cncf.model.weight.v1.tar", tc.tar)
			dir, _ := a.writeLayout(t, "v1")
			_, err = oci.Open(context.Background(), dir)
			assert.Equal(t, formats.KindUnsupported, formats.KindOf(err), "%v", err)
			assert.ErrorContains(t, err, "sparse")
		})
	}
}

// The same PAX bytes without a sparse record unpack: the refusal is the
// record's, not the hand-made encoding's.
func TestHandMadePAXTarOpens(t *testing.T) {
	w := safetensors("w")
	a := newModelPack()
	a.layer("application/vnd.cncf.model.weight.v1.tar", paxTar("m.safetensors", w, "mtime", "1700000000.5"))
	dir, _ := a.writeLayout(t, "v1")
	m, err := oci.Open(context.Background(), dir)
	require.NoError(t, err)
	defer m.Close()
	assert.Equal(t, []string{"m.safetensors"}, m.Layers[0].Files)
}

// A hard link inside the root unpacks, as oras and containerd unpack it:
// another name for a file unpacked before it (in its layer or an earlier
// one), with the same bytes, approved like it.
func TestHardLinkInsideUnpacks(t *testing.T) {
	w, lic := safetensors("w"), []byte("Apache License 2.0\n")
	a := newModelPack()
	a.layer("application/vnd.cncf.model.weight.v1.tar", tarOf(t, file("m.safetensors", w), file("LICENSE", lic),
		special("./LICENSE.txt", tar.TypeLink, "./LICENSE")))
	a.layer("application/vnd.cncf.model.doc.v1.tar", tarOf(t, special("docs/LICENSE", tar.TypeLink, "LICENSE")))
	dir, _ := a.writeLayout(t, "v1")
	m, err := oci.Open(context.Background(), dir)
	require.NoError(t, err)
	defer m.Close()
	assert.Equal(t, []string{"m.safetensors", "LICENSE", "LICENSE.txt"}, m.Layers[0].Files)
	assert.Equal(t, []string{"docs/LICENSE"}, m.Layers[1].Files)
	for _, name := range []string{"LICENSE.txt", "docs/LICENSE"} {
		b, err := os.ReadFile(filepath.Join(m.Dir(), name))
		require.NoError(t, err)
		assert.Equal(t, lic, b, name)
	}
	assert.True(t, m.Verified.Allowlisted)
}
