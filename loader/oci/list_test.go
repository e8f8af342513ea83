package oci_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"testing"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader/oci"
)

// ParseShard reads I/N as a Kubernetes Indexed Job's index and count,
// and refuses anything else as kind usage.
func TestParseShard(t *testing.T) {
	for _, s := range []string{"0/1", "3/4", "999999/1000000"} {
		sh, err := oci.ParseShard(s)
		require.NoError(t, err, s)
		assert.Equal(t, s, sh.String())
	}
	for _, tc := range []struct{ in, why string }{
		{"", "not I/N"}, {"1", "not I/N"}, {"a/b", "decimal"}, {"-1/2", "decimal"}, {"+1/2", "decimal"},
		{"01/2", "leading zero"}, {"1/02", "leading zero"}, {" 1/2", "decimal"}, {"1/2 ", "decimal"}, {"1/2/3", "decimal"},
		{"2/2", "below N"}, {"5/2", "below N"}, {"0/0", "N must be"}, {"0/1000001", "N must be"}, {"0/99999999999999999999", "decimal"},
		{"١/٢", "decimal"},
	} {
		_, err := oci.ParseShard(tc.in)
		assert.Equal(t, formats.KindUsage, formats.KindOf(err), "%q: %v", tc.in, err)
		assert.ErrorContains(t, err, tc.why, tc.in)
	}
}

// Every artifact belongs to exactly one shard of N, by its REPO:TAG
// alone, and the shards share the work about evenly.
func TestShardsPartitionByKey(t *testing.T) {
	const tags = 3000
	for _, n := range []int{1, 2, 5, 16} {
		count := make([]int, n)
		for i := range tags {
			a := oci.Tagged{Registry: "r", Repository: fmt.Sprintf("repo%d", i%7), Tag: fmt.Sprintf("v%d", i)}
			owners := 0
			for j := range n {
				if (oci.Shard{Index: j, Count: n}).Owns(a) {
					owners++
					count[j]++
				}
			}
			require.Equal(t, 1, owners, "%s in %d shards of %d", a, owners, n)
			b := a
			b.Registry = "elsewhere" // the registry is no part of the key
			assert.Equal(t, (oci.Shard{Index: 0, Count: n}).Owns(a), (oci.Shard{Index: 0, Count: n}).Owns(b))
		}
		for j, c := range count {
			assert.InDelta(t, tags/n, c, float64(tags/n)/4+5, "shard %d/%d holds %d of %d", j, n, c, tags)
		}
	}
	assert.Equal(t, "models/llama:v1", oci.Tagged{Registry: "r", Repository: "models/llama", Tag: "v1"}.Key())
}

// A layout's tags list in order; a pinned reference keeps the tag for the
// reader and opens by digest; a manifest of signatures, or an index of
// them (the referrers tag schema), is a signature by its content.
func TestListLayoutAndResolve(t *testing.T) {
	a := newModelPack()
	a.raw("model.safetensors", safetensors("w"))
	md := a.manifest(t)
	sig := a.signManifest(t, md, mustKey(t))
	b, err := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{sig}})
	require.NoError(t, err)
	idx := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: a.blob(b), Size: int64(len(b))}
	tag := func(d ocispec.Descriptor, name string) ocispec.Descriptor {
		d.Annotations = map[string]string{ocispec.AnnotationRefName: name}
		return d
	}
	dir := a.writeIndex(t, tag(md, "v2"), tag(md, "v1"), tag(sig, "sig"), tag(idx, "sha256-"+md.Digest.Encoded()))
	ctx := context.Background()
	list, err := oci.List(ctx, "oci-layout:"+dir)
	require.NoError(t, err)
	var names []string
	for _, l := range list {
		names = append(names, l.Tag)
		require.NoError(t, l.Err)
	}
	assert.Equal(t, []string{"sha256-" + md.Digest.Encoded(), "sig", "v1", "v2"}, names)
	for _, l := range list {
		r, err := oci.Resolve(ctx, l)
		require.NoError(t, err, l.Tag)
		assert.Equal(t, l.Tag == "sig" || l.Tag[0] == 's', r.Signature, l.Tag)
		if l.Tag == "v1" {
			assert.Equal(t, md.Digest, r.Manifest.Digest)
			pinned := l.Pinned(r.Manifest.Digest.String())
			assert.Equal(t, "oci-layout:"+dir+"@"+md.Digest.String(), pinned)
			m, err := oci.Open(ctx, pinned, oci.RequireDigest())
			require.NoError(t, err)
			m.Close()
		}
	}
	one, err := oci.List(ctx, "oci-layout:"+dir+":v1")
	require.NoError(t, err)
	assert.Equal(t, []oci.Tagged{{Layout: dir, Tag: "v1"}}, one)

	reg := oci.Tagged{Registry: "127.0.0.1:5000", Repository: "models/llama", Tag: "v1"}
	pinned := reg.Pinned(md.Digest.String())
	assert.Equal(t, "oci://127.0.0.1:5000/models/llama:v1@"+md.Digest.String(), pinned)
	r, err := oci.ParseReference(pinned)
	require.NoError(t, err)
	assert.Equal(t, md.Digest.String(), r.Digest, "registry clients read REPO:TAG@DIGEST as the digest")

	_, err = oci.List(ctx, "oci://")
	assert.Equal(t, formats.KindMalformed, formats.KindOf(err), "%v", err)
	missing, err := oci.List(ctx, "oci-layout:"+t.TempDir()+"/none")
	require.NoError(t, err)
	require.Len(t, missing, 1)
	assert.Equal(t, formats.KindIO, formats.KindOf(missing[0].Err), "%v", missing[0].Err)
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

// FuzzParseShard: what parses is canonical (String gives the input back)
// and in range; the rest is kind usage.
func FuzzParseShard(f *testing.F) {
	for _, s := range []string{"0/1", "3/4", "01/2", "2/2", "-1/2", "0/1000001", "1/2/3", "", "a/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sh, err := oci.ParseShard(s)
		if err != nil {
			require.Equal(t, formats.KindUsage, formats.KindOf(err))
			return
		}
		require.Equal(t, s, sh.String())
		require.True(t, 0 <= sh.Index && sh.Index < sh.Count && sh.Count <= oci.MaxShards, s)
	})
}
