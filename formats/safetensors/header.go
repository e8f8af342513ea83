package safetensors

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/modelgate/modelgate/formats"
)

// MetadataKey is the reserved header key holding free-form string metadata.
const MetadataKey = "__metadata__"

// entry is one tensor as the header declares it, with offsets relative to
// the start of the data section.
type entry struct {
	name       string
	dtype      formats.DType
	shape      []int64
	begin, end int64
	at         int64 // file offset of the entry, for errors
}

type header struct {
	entries  []entry
	metadata map[string]string
}

func tensorField(name, field string) string {
	return "tensors[" + strconv.Quote(name) + "]" + field
}

// parseHeader parses the JSON header buf, which sits at file offset base.
func parseHeader(buf []byte, base int64, lim formats.Limits) (*header, *formats.Error) {
	s := &scanner{buf: buf, base: base}
	if !utf8.Valid(buf) {
		for i := 0; ; {
			r, n := utf8.DecodeRune(buf[i:])
			if r == utf8.RuneError && n <= 1 {
				return nil, formats.Errorf(formats.KindMalformed, base+int64(i), "header is not valid UTF-8")
			}
			i += n
		}
	}
	if len(buf) == 0 || buf[0] != '{' {
		return nil, s.errf("header does not start with '{'")
	}
	h, err := s.object(lim)
	if err != nil {
		return nil, err
	}
	for ; s.pos < len(buf); s.pos++ {
		if buf[s.pos] != ' ' && buf[s.pos] != '\t' && buf[s.pos] != '\n' && buf[s.pos] != '\r' {
			return nil, s.errf("unexpected %s after the header object; only whitespace may follow", describe(buf[s.pos]))
		}
	}
	return h, nil
}

// minEntryBytes is the size of the shortest tensor entry:
// "":{"dtype":"U8","shape":[],"data_offsets":[0,0]},
const minEntryBytes = 50

// object parses the top-level object: tensor entries and __metadata__.
func (s *scanner) object(lim formats.Limits) (*header, *formats.Error) {
	s.pos++ // '{'
	// A tensor entry takes at least minEntryBytes of header, so this bounds
	// the preallocation by bytes that exist, not by a declared count.
	hint := min(int64(len(s.buf))/minEntryBytes, lim.MaxTensors)
	h := &header{entries: make([]entry, 0, hint)}
	seen := seenIn(make(map[string]struct{}, hint))
	if s.peek() == '}' {
		s.pos++
		return h, nil
	}
	for more := true; more; {
		at := s.off()
		key, err := s.key(seen, lim)
		if err != nil {
			return nil, err
		}
		if key == MetadataKey {
			if h.metadata, err = s.metadata(lim); err != nil {
				return nil, err.WithField(MetadataKey)
			}
		} else {
			if int64(len(h.entries)) >= lim.MaxTensors {
				return nil, formats.Exceeded(at, "tensor count", int64(len(h.entries))+1, "MaxTensors", lim.MaxTensors)
			}
			e := entry{name: key, at: at}
			if err := s.tensor(&e, lim); err != nil {
				return nil, err
			}
			h.entries = append(h.entries, e)
		}
		if more, err = s.next('}'); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// key reads an object key and its ':', refusing duplicates (seen reports
// whether a key was already read), NUL bytes and names over MaxNameBytes.
func (s *scanner) key(seen func(string) bool, lim formats.Limits) (string, *formats.Error) {
	at := s.pos
	k, err := s.str()
	if err != nil {
		return "", err
	}
	if seen(k) {
		s.pos = at
		return "", s.errf("duplicate key %q", k)
	}
	if int64(len(k)) > lim.MaxNameBytes {
		return "", formats.Exceeded(s.base+int64(at), "key length", int64(len(k)), "MaxNameBytes", lim.MaxNameBytes)
	}
	if strings.IndexByte(k, 0) >= 0 {
		s.pos = at
		return "", s.errf("key %q contains a NUL character", k)
	}
	return k, s.expect(':', "':'")
}

// seenIn returns a seen function for key that records keys in m.
func seenIn[V any](m map[string]V) func(string) bool {
	return func(k string) bool {
		if _, ok := m[k]; ok {
			return true
		}
		var zero V
		m[k] = zero
		return false
	}
}

// metadata parses __metadata__: a flat object of string values.
func (s *scanner) metadata(lim formats.Limits) (map[string]string, *formats.Error) {
	if err := s.expect('{', "an object of strings"); err != nil {
		return nil, err
	}
	m := make(map[string]string)
	if s.peek() == '}' {
		s.pos++
		return m, nil
	}
	seen := seenIn(m)
	var bytes int64
	for more := true; more; {
		if int64(len(m)) >= lim.MaxMetadataEntries {
			return nil, formats.Exceeded(int64(s.pos), "metadata entry count", int64(len(m))+1, "MaxMetadataEntries", lim.MaxMetadataEntries)
		}
		k, err := s.key(seen, lim)
		if err != nil {
			return nil, err
		}
		if s.peek() != '"' {
			return nil, s.errf("value of %q is not a string", k)
		}
		if m[k], err = s.str(); err != nil {
			return nil, err
		}
		if bytes += int64(len(k) + len(m[k])); bytes > lim.MaxMetadataBytes {
			return nil, formats.Exceeded(int64(s.pos), "metadata size", bytes, "MaxMetadataBytes", lim.MaxMetadataBytes)
		}
		if more, err = s.next('}'); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// tensor parses one tensor entry: exactly dtype, shape and data_offsets.
func (s *scanner) tensor(e *entry, lim formats.Limits) *formats.Error {
	if err := s.expect('{', "a tensor object"); err != nil {
		return err.WithField(tensorField(e.name, ""))
	}
	var fields [3]bool // dtype, shape, data_offsets
	seen := func(k string) bool {
		i := slices.Index(tensorFields[:], k)
		if i < 0 || !fields[i] {
			if i >= 0 {
				fields[i] = true
			}
			return false
		}
		return true
	}
	for more := true; more; {
		k, err := s.key(seen, lim)
		if err == nil {
			err = s.tensorValue(e, k, lim)
		}
		if err == nil {
			more, err = s.next('}')
		}
		if err != nil {
			if err.Field == "" {
				err.Field = tensorField(e.name, "."+k)
			}
			return err
		}
	}
	for i, ok := range fields {
		if !ok {
			return s.errf("missing field %q", tensorFields[i]).WithField(tensorField(e.name, ""))
		}
	}
	return nil
}

var tensorFields = [3]string{"dtype", "shape", "data_offsets"}

func (s *scanner) tensorValue(e *entry, k string, lim formats.Limits) *formats.Error {
	switch k {
	case "dtype":
		v, err := s.str()
		if err != nil {
			return err
		}
		var ok bool
		if e.dtype, ok = formats.ParseDType(v); !ok {
			return formats.Errorf(formats.KindMalformed, s.off(), "unknown dtype %q", v)
		}
	case "shape":
		return s.shape(e, lim)
	case "data_offsets":
		return s.offsets(e)
	default:
		return s.errf("unknown field %q", k)
	}
	return nil
}

func (s *scanner) shape(e *entry, lim formats.Limits) *formats.Error {
	if err := s.expect('[', "an array of integers"); err != nil {
		return err
	}
	e.shape = []int64{}
	if s.peek() == ']' {
		s.pos++
		return nil
	}
	for more := true; more; {
		if int64(len(e.shape)) >= lim.MaxRank {
			return formats.Exceeded(s.off(), "rank", int64(len(e.shape))+1, "MaxRank", lim.MaxRank)
		}
		v, err := s.uint53()
		if err != nil {
			return err
		}
		if v > lim.MaxDim {
			return formats.Exceeded(s.off(), "dimension", v, "MaxDim", lim.MaxDim)
		}
		e.shape = append(e.shape, v)
		if more, err = s.next(']'); err != nil {
			return err
		}
	}
	return nil
}

func (s *scanner) offsets(e *entry) *formats.Error {
	if err := s.expect('[', "an array of two integers"); err != nil {
		return err
	}
	var err *formats.Error
	if e.begin, err = s.uint53(); err != nil {
		return err
	}
	if err = s.expect(',', "',' (data_offsets has two integers)"); err != nil {
		return err
	}
	if e.end, err = s.uint53(); err != nil {
		return err
	}
	return s.expect(']', "']' (data_offsets has two integers)")
}
