package npy

import (
	"bytes"
	"io"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/internal/strictzip"
	"github.com/modelgate/modelgate/internal/readahead"
)

// Member is one array of an .npz archive. Its Name is the member name
// without ".npy", as numpy and MLX name it.
type Member struct {
	Array
	Entry  string // the zip member name
	Stored bool   // stored uncompressed: Offset is in the archive file
	data   []byte // inflated member, for deflated members (Offset is within it)
}

// Archive is a parsed .npz file.
type Archive struct {
	r       io.ReaderAt
	file    []byte // whole archive, when held in memory
	members []Member
	byName  map[string]int
}

// NewArchive parses the .npz archive of the given size read from r on the
// strict zip layer (see the package documentation), then every member as
// an .npy file. Stored members are checked (CRC-32) in one pass and handed
// out as sections of r; deflated members are inflated into memory within
// the limits.
func NewArchive(r io.ReaderAt, size int64, lim formats.Limits) (*Archive, error) {
	lim = lim.WithDefaults()
	r = readahead.New(r, size) // member headers: many small sequential reads
	z, err := strictzip.NewReader(r, size, lim)
	if err != nil {
		return nil, err
	}
	a := &Archive{r: r, byName: make(map[string]int, len(z.Entries)), members: make([]Member, 0, len(z.Entries))}
	var inflated, total int64
	for _, e := range z.Entries {
		m, err := a.member(z, e, lim, &inflated)
		if err != nil {
			return nil, formats.WithPath(err, e.Name)
		}
		if total += m.Size; total > lim.MaxTotalBytes {
			return nil, formats.Exceeded(e.HeaderOffset, "total array bytes", total, "MaxTotalBytes", lim.MaxTotalBytes)
		}
		a.byName[m.Name] = len(a.members)
		a.members = append(a.members, *m)
	}
	return a, nil
}

// NewArchiveBytes parses an .npz archive held in memory; Bytes then returns
// stored members' data without copying.
func NewArchiveBytes(b []byte, lim formats.Limits) (*Archive, error) {
	return NewArchiveMapped(bytes.NewReader(b), b, lim)
}

// NewArchiveMapped parses an .npz archive that r reads and mem maps (the
// same bytes): the checks read through r, so that a mapping is not faulted
// in page by page, and Bytes slices mem without copying.
func NewArchiveMapped(r io.ReaderAt, mem []byte, lim formats.Limits) (*Archive, error) {
	a, err := NewArchive(r, int64(len(mem)), lim)
	if err != nil {
		return nil, err
	}
	a.file = mem
	return a, nil
}

// member checks one entry's name and content and parses its array.
func (a *Archive) member(z *strictzip.Reader, e *strictzip.Entry, lim formats.Limits, inflated *int64) (*Member, *formats.Error) {
	key, err := a.memberName(e)
	if err != nil {
		return nil, err
	}
	m := &Member{Entry: e.Name, Stored: e.Method == strictzip.Store}
	if m.Stored {
		if err := z.Verify(e); err != nil {
			return nil, asError(err)
		}
		arr, err := readArray(a.r, e.UncompressedSize, e.DataOffset, lim)
		if err != nil {
			return nil, contentError(err, a.r, e.DataOffset, e.UncompressedSize, e)
		}
		m.Array = *arr
	} else {
		if *inflated += e.UncompressedSize; *inflated > lim.MaxDecompressedBytes {
			return nil, formats.Errorf(formats.KindLimitExceeded, e.HeaderOffset,
				"members inflate to %d bytes in all; limit is MaxDecompressedBytes=%d", *inflated, lim.MaxDecompressedBytes)
		}
		data, rerr := z.ReadAll(e)
		if rerr != nil {
			return nil, asError(rerr)
		}
		arr, err := readArray(bytes.NewReader(data), int64(len(data)), 0, lim)
		if err != nil {
			return nil, contentError(err, bytes.NewReader(data), 0, int64(len(data)), e)
		}
		m.Array, m.data = *arr, data
	}
	m.Name = key
	return m, nil
}

func asError(err error) *formats.Error {
	if fe, ok := err.(*formats.Error); ok {
		return fe
	}
	return formats.IOError(formats.NoOffset, err)
}

// contentError refines a member's parse error: content that is a pickle is
// refused as a pickle, whatever the member's name.
func contentError(err *formats.Error, r io.ReaderAt, off, size int64, e *strictzip.Entry) *formats.Error {
	if err.Kind == formats.KindMalformed && isPickleAt(r, off, size) {
		return formats.Errorf(formats.KindPickle, off, "member %q is a pickle, not an .npy array", e.Name)
	}
	return err
}

// isPickleAt reports whether the bytes at off start like a pickle of
// protocol 2 or later (PROTO opcode), the form numpy and torch write.
func isPickleAt(r io.ReaderAt, off, size int64) bool {
	if size < 2 {
		return false
	}
	var b [2]byte
	if _, err := r.ReadAt(b[:], off); err != nil {
		return false
	}
	return b[0] == 0x80 && b[1] >= 2 && b[1] <= 5
}

// memberName checks a member's name and returns its array name (the name
// without ".npy").
func (a *Archive) memberName(e *strictzip.Entry) (string, *formats.Error) {
	name := e.Name
	at := e.HeaderOffset
	switch {
	case e.Symlink():
		return "", formats.Errorf(formats.KindPathTraversal, at, "member %q is a symbolic link", name)
	case name == "" || strings.IndexByte(name, 0) >= 0 || !utf8.ValidString(name):
		return "", formats.Errorf(formats.KindMalformed, at, "member name %q is empty, has a NUL byte or is not UTF-8", name)
	case strings.HasPrefix(name, "/") || strings.Contains(name, `\`) || hasDrive(name) ||
		name == ".." || strings.HasPrefix(name, "../") || strings.Contains(name, "/../") || strings.HasSuffix(name, "/.."):
		return "", formats.Errorf(formats.KindPathTraversal, at, "member name %q is absolute, has a backslash, a drive letter or a '..' element", name)
	case path.Clean(name) != name && !e.Dir():
		return "", formats.Errorf(formats.KindMalformed, at, "member name %q is not a clean relative path", name)
	}
	key := strings.TrimSuffix(name, ".npy")
	if _, dup := a.byName[key]; dup {
		return "", formats.Errorf(formats.KindMalformed, at, "member %q collides with another once %q is stripped", name, ".npy")
	}
	if formats.IsPickleName(name) {
		return "", formats.Errorf(formats.KindPickle, at, "member %q is a pickle", name)
	}
	if e.Dir() || !strings.HasSuffix(name, ".npy") || key == "" {
		if isPickleAt(a.r, e.DataOffset, e.CompressedSize) && e.Method == strictzip.Store {
			return "", formats.Errorf(formats.KindPickle, at, "member %q is a pickle", name)
		}
		return "", formats.Errorf(formats.KindUnsupported, at, "member %q is not an .npy array", name)
	}
	return key, nil
}

func hasDrive(name string) bool {
	return len(name) >= 2 && name[1] == ':' && (name[0]|0x20 >= 'a' && name[0]|0x20 <= 'z')
}

// Members returns every array, in the archive's central directory order.
// The caller must not modify the slice.
func (a *Archive) Members() []Member { return a.members }

// Member returns the array named name (without ".npy").
func (a *Archive) Member(name string) (*Member, bool) {
	i, ok := a.byName[name]
	if !ok {
		return nil, false
	}
	return &a.members[i], true
}

// Section returns a reader of the named array's data: a section of the
// archive for stored members, of the inflated bytes otherwise.
func (a *Archive) Section(name string) (*io.SectionReader, bool) {
	m, ok := a.Member(name)
	if !ok {
		return nil, false
	}
	if m.Stored {
		return io.NewSectionReader(a.r, m.Offset, m.Size), true
	}
	return io.NewSectionReader(bytes.NewReader(m.data), m.Offset, m.Size), true
}

// Bytes returns the named array's data without copying: a sub-slice of
// the inflated member, or of the archive given to NewArchiveBytes for a
// stored member. It reports false when neither is in memory.
func (a *Archive) Bytes(name string) ([]byte, bool) {
	m, ok := a.Member(name)
	if !ok {
		return nil, false
	}
	src := m.data
	if m.Stored {
		src = a.file
	}
	if src == nil {
		return nil, false
	}
	return src[m.Offset : m.Offset+m.Size : m.Offset+m.Size], true
}
