// Package containerd holds a differential test of modelgate's OCI layer
// unpacking (loader/oci) against containerd's (pkg/archive Apply, what
// containerd's diff applier runs for every layer). It is a module of its
// own so that containerd is no dependency of modelgate's: go.mod replaces
// modelgate with the tree it sits in.
//
// The test reads loader/oci/testdata/layers, whose EXPECT file gives
// modelgate's verdict on each tar layer. A layer modelgate accepts must
// be unpacked by containerd into the same regular files with the same
// bytes; for a layer modelgate refuses, what containerd does is recorded
// in testdata/containerd.txt (go test -update rewrites it).
package containerd
