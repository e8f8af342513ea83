// Package ociref tells an OCI artifact's reference from a model's path,
// for loader/oci and for the lean build of cmd/modelgate, which must
// decide before it links any OCI client: one reading for both.
package ociref

import (
	"os"
	"path/filepath"
	"strings"
)

// IsReference reports whether s names an OCI artifact: oci://…,
// oci-layout:…, or a directory holding an oci-layout file.
func IsReference(s string) bool {
	if strings.HasPrefix(s, "oci://") || strings.HasPrefix(s, "oci-layout:") {
		return true
	}
	st, err := os.Stat(filepath.Join(s, "oci-layout"))
	return err == nil && st.Mode().IsRegular()
}
