package loader

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"slices"
	"strings"

	"github.com/modelgate/modelgate/formats"
)

// shardIndex is a Hugging Face *.safetensors.index.json.
type shardIndex struct {
	weightMap map[string]string // tensor -> shard
	shards    []string          // sorted, unique
}

// parseIndex reads an index strictly: one object with "weight_map" (an
// object of tensor -> shard strings, no duplicate keys) and optionally
// "metadata" (an object); nothing else. Shard names must be clean relative
// paths (kind path-traversal otherwise).
func parseIndex(b []byte, lim formats.Limits) (*shardIndex, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	bad := func(format string, args ...any) error {
		return formats.Errorf(formats.KindMalformed, dec.InputOffset(), format, args...)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, bad("index is not a JSON object")
	}
	idx := &shardIndex{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad("index: %v", err)
		}
		key, _ := tok.(string)
		if seen[key] {
			return nil, bad("index: duplicate key %q", key)
		}
		seen[key] = true
		switch key {
		case "metadata":
			if err := skipMetadata(dec, lim); err != nil {
				return nil, err
			}
		case "weight_map":
			if idx.weightMap, err = readWeightMap(dec, lim); err != nil {
				return nil, err
			}
		default:
			return nil, bad("index: unknown key %q", key)
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, bad("index: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, bad("index: data after the object")
	}
	if idx.weightMap == nil {
		return nil, bad("index has no weight_map")
	}
	for _, shard := range idx.weightMap {
		if !slices.Contains(idx.shards, shard) {
			idx.shards = append(idx.shards, shard)
		}
	}
	slices.Sort(idx.shards)
	for _, s := range idx.shards {
		if !fs.ValidPath(s) || strings.Contains(s, `\`) || s == "." {
			return nil, formats.Errorf(formats.KindPathTraversal, formats.NoOffset, "index names shard %q, which is not a clean path inside the model directory", s)
		}
	}
	return idx, nil
}

// skipMetadata reads an index's metadata object as tokens, decoding
// nothing (it is never used), and refuses more values than
// MaxMetadataEntries or more bytes than MaxMetadataBytes.
func skipMetadata(dec *json.Decoder, lim formats.Limits) error {
	start := dec.InputOffset()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return formats.Errorf(formats.KindMalformed, dec.InputOffset(), "index: metadata is not an object")
	}
	for depth, values := 1, int64(0); depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return formats.Errorf(formats.KindMalformed, dec.InputOffset(), "index: metadata: %v", err)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if values++; values > lim.MaxMetadataEntries {
			return formats.Exceeded(dec.InputOffset(), "index metadata value count", values, "MaxMetadataEntries", lim.MaxMetadataEntries)
		}
		if n := dec.InputOffset() - start; n > lim.MaxMetadataBytes {
			return formats.Exceeded(dec.InputOffset(), "index metadata size", n, "MaxMetadataBytes", lim.MaxMetadataBytes)
		}
	}
	return nil
}

func readWeightMap(dec *json.Decoder, lim formats.Limits) (map[string]string, error) {
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, formats.Errorf(formats.KindMalformed, dec.InputOffset(), "index: weight_map is not an object")
	}
	m := map[string]string{}
	for dec.More() {
		kt, err1 := dec.Token()
		vt, err2 := dec.Token()
		k, ok1 := kt.(string)
		v, ok2 := vt.(string)
		if err := errors.Join(err1, err2); err != nil || !ok1 || !ok2 {
			return nil, formats.Errorf(formats.KindMalformed, dec.InputOffset(), "index: weight_map must map names to shard names")
		}
		if _, dup := m[k]; dup {
			return nil, formats.Errorf(formats.KindMalformed, dec.InputOffset(), "index: tensor %q is listed twice", k)
		}
		if int64(len(m)) >= MaxIndexTensors {
			return nil, formats.Exceeded(dec.InputOffset(), "index tensor count", int64(len(m))+1, "MaxIndexTensors", MaxIndexTensors)
		}
		m[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, formats.Errorf(formats.KindMalformed, dec.InputOffset(), "index: %v", err)
	}
	return m, nil
}

// MaxIndexTensors caps the tensors a sharded index names: every tensor of
// the model, across all its shards (see formats.DefaultMaxTensors for the
// figures of real models).
const MaxIndexTensors = 1 << 20

// MaxIndexBytes caps a *.safetensors.index.json: the largest public
// indexes (DeepSeek-V3's names about 90,000 tensors) are under 10 MiB.
const MaxIndexBytes = 32 << 20

// parseIndex reads the verified index, and refuses a weight file the index
// does not name (loaders that glob *.safetensors, as mlx_lm does, would
// load it) and a shard that does not exist. It keeps only the shards
// among the weight files.
func (o *opener) parseIndex(mf *modelFile, weights map[string]*modelFile) error {
	if mf.st.Size() > MaxIndexBytes {
		return formats.WithPath(formats.Exceeded(formats.NoOffset, "index size", mf.st.Size(), "MaxIndexBytes", MaxIndexBytes), mf.name)
	}
	b := make([]byte, mf.st.Size())
	if _, err := mf.h.r.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return formats.WithPath(formats.IOError(0, err), mf.name)
	}
	idx, err := parseIndex(b, o.c.checks.Limits)
	if err != nil {
		return formats.WithPath(err, mf.name)
	}
	for _, s := range idx.shards {
		if weights[s] == nil {
			return formats.WithPath(formats.Errorf(formats.KindMalformed, formats.NoOffset, "index names shard %q, which does not exist", s), mf.name)
		}
	}
	var extra []string
	for name := range weights {
		if !slices.Contains(idx.shards, name) {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return formats.WithPath(formats.Errorf(formats.KindMalformed, formats.NoOffset, "weight files the index does not name: %s; loaders that glob *.safetensors would load them", strings.Join(extra, ", ")), mf.name)
	}
	o.index, o.indexName = idx, mf.name
	return nil
}

// checkIndex: every tensor the index names is in its shard, and every
// tensor of a shard is in the index.
func checkIndex(m *Model, idx *shardIndex, indexName string) error {
	for name, shard := range idx.weightMap {
		t, ok := m.Tensor(name)
		switch {
		case !ok:
			return formats.WithPath(formats.Errorf(formats.KindMalformed, formats.NoOffset, "index puts tensor %q in %s, which does not hold it", name, shard), indexName)
		case t.File != shard:
			return formats.WithPath(formats.Errorf(formats.KindMalformed, formats.NoOffset, "index puts tensor %q in %s, but it is in %s", name, shard, t.File), indexName)
		}
	}
	for _, t := range m.Tensors {
		if _, ok := idx.weightMap[t.Name]; !ok {
			return formats.WithPath(formats.Errorf(formats.KindMalformed, formats.NoOffset, "tensor %q of %s is not in the index", t.Name, t.File), indexName)
		}
	}
	return nil
}
