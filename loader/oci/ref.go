package oci

import (
	"net"
	"strings"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/internal/ociref"
	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/registry"

	_ "crypto/sha256" // digest algorithms go-digest verifies
	_ "crypto/sha512"
)

// Reference is a parsed OCI reference: a registry repository or a layout
// directory, and a tag or digest in it.
type Reference struct {
	Registry   string // host[:port]; empty for a layout
	Repository string // the repository in Registry
	Layout     string // the layout directory; empty for a registry
	Tag        string // the tag, when the reference names one
	Digest     string // the digest, when the reference pins one
}

// String returns the reference in the form ParseReference reads.
func (r Reference) String() string {
	s := "oci://" + r.Registry + "/" + r.Repository
	if r.Layout != "" {
		s = "oci-layout:" + r.Layout
	}
	switch {
	case r.Digest != "":
		return s + "@" + r.Digest
	case r.Tag != "":
		return s + ":" + r.Tag
	}
	return s
}

// reference is what the store resolves: the digest, else the tag.
func (r Reference) reference() string {
	if r.Digest != "" {
		return r.Digest
	}
	return r.Tag
}

// IsReference reports whether s names an OCI artifact: oci://…,
// oci-layout:…, or a directory holding an oci-layout file.
func IsReference(s string) bool { return ociref.IsReference(s) }

// ParseReference reads oci://REGISTRY/REPO[:TAG|@DIGEST],
// oci-layout:DIR[:TAG|@DIGEST] or a layout directory's path. A registry
// reference must name a tag or a digest; a layout reference without one
// names the only manifest its index.json lists.
func ParseReference(s string) (Reference, error) {
	bad := func(why string) (Reference, error) {
		return Reference{}, formats.Errorf(formats.KindMalformed, formats.NoOffset, "OCI reference %q: %s", s, why)
	}
	if rest, ok := strings.CutPrefix(s, "oci://"); ok {
		r, err := registry.ParseReference(rest)
		if err != nil {
			return bad(err.Error())
		}
		if r.Reference == "" {
			return bad("names no tag or digest")
		}
		out := Reference{Registry: r.Registry, Repository: r.Repository}
		if d, err := r.Digest(); err == nil {
			out.Digest = d.String()
		} else {
			out.Tag = r.Reference
		}
		return out, nil
	}
	dir, ok := strings.CutPrefix(s, "oci-layout:")
	if !ok {
		if !IsReference(s) {
			return bad("not oci://, oci-layout: or a directory holding an oci-layout file")
		}
		return Reference{Layout: s}, nil
	}
	out := Reference{Layout: dir}
	if i := strings.LastIndex(dir, "@"); i >= 0 {
		d, err := digest.Parse(dir[i+1:])
		if err != nil {
			return bad("digest: " + err.Error())
		}
		out.Layout, out.Digest = dir[:i], d.String()
	} else if i := strings.LastIndex(dir, ":"); i >= 0 && !strings.ContainsAny(dir[i+1:], `/\`) {
		out.Layout, out.Tag = dir[:i], dir[i+1:]
		if (registry.Reference{Registry: "x", Repository: "x", Reference: out.Tag}).ValidateReferenceAsTag() != nil {
			return bad("tag " + out.Tag + " is not a valid tag")
		}
	}
	if out.Layout == "" {
		return bad("names no directory")
	}
	return out, nil
}

// loopback reports whether host (host[:port]) is this machine: localhost
// or a loopback address, where plain HTTP crosses no network.
func loopback(host string) bool {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	h = strings.Trim(h, "[]")
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
