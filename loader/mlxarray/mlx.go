//go:build mlx && cgo

package mlxarray

/*
#cgo CXXFLAGS: -std=c++20
#cgo LDFLAGS: -lstdc++
#include <stdlib.h>
#include <string.h>
#include "mlx/c/array.h"
#include "mlx/c/error.h"
#include "mlx/c/io.h"
#include "mlx/c/map.h"
#include "mlx/c/stream.h"
#include "mlx/c/string.h"

// mlx-c's default error handler prints and exits; keep the last message
// instead, for the Go caller (calls are serialized by mu).
static char mg_err[1024];
static void mg_handler(const char* msg, void* data) {
	strncpy(mg_err, msg, sizeof mg_err - 1);
	mg_err[sizeof mg_err - 1] = 0;
}
static void mg_install(void) { mlx_set_error_handler(mg_handler, NULL, NULL); }
static const char* mg_last(void) { return mg_err; }
static void mg_clear(void) { mg_err[0] = 0; }
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
)

var (
	mu      sync.Mutex // mlx-c's error message is global
	install sync.Once
)

// lock serializes calls into mlx-c and clears its last error.
func lock() func() {
	mu.Lock()
	install.Do(func() { C.mg_install() })
	C.mg_clear()
	return mu.Unlock
}

// lastErr is mlx-c's last error, prefixed with what failed.
func lastErr(what string) error {
	msg := C.GoString(C.mg_last())
	if msg == "" {
		msg = "failed"
	}
	return formats.Errorf(formats.KindIO, formats.NoOffset, "mlx-c: %s: %s", what, msg)
}

// Array is an MLX array. Free releases it; a finalizer does too.
type Array struct {
	c C.mlx_array
}

func newArray(c C.mlx_array) *Array {
	a := &Array{c: c}
	runtime.SetFinalizer(a, (*Array).Free)
	return a
}

// Free releases the array. It is safe to call twice.
func (a *Array) Free() {
	if a == nil || a.c.ctx == nil {
		return
	}
	defer lock()()
	C.mlx_array_free(a.c)
	a.c.ctx = nil
	runtime.SetFinalizer(a, nil)
}

// New returns the named tensor of m as an MLX array: the verified bytes
// are copied once, by mlx_array_new_data, from the mapping (or private
// copy) m holds. The file is not opened again. It fails as Check does, and
// when m does not hold the bytes in memory (ModeReadAt, or a file in
// Verified.Rehashed).
func New(m *loader.Model, name string) (*Array, error) {
	t, ok := m.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("mlxarray: no tensor %q", name)
	}
	d, shape, err := Check(t)
	if err != nil {
		return nil, err
	}
	b, err := m.Bytes(name)
	if err != nil {
		return nil, fmt.Errorf("mlxarray: %w", err)
	}
	if int64(len(b)) != t.Size {
		return nil, formats.Errorf(formats.KindMalformed, t.Offset, "tensor %q: %d bytes held, %d described", name, len(b), t.Size)
	}
	cshape := make([]C.int, len(shape))
	for i, n := range shape {
		cshape[i] = C.int(n)
	}
	var sp *C.int
	if len(cshape) > 0 {
		sp = &cshape[0]
	}
	var data unsafe.Pointer
	if len(b) > 0 {
		data = unsafe.Pointer(&b[0])
	}
	unlock := lock()
	c := C.mlx_array_new_data(data, sp, C.int(len(cshape)), C.mlx_dtype(d))
	if c.ctx == nil {
		err := lastErr("mlx_array_new_data " + name)
		unlock()
		return nil, err
	}
	unlock()
	runtime.KeepAlive(b)
	return newArray(c), nil
}

// Load returns every tensor of m as an MLX array, by name. On an error it
// frees what it made.
func Load(m *loader.Model) (map[string]*Array, error) {
	out := make(map[string]*Array, len(m.Tensors))
	for _, t := range m.Tensors {
		a, err := New(m, t.Name)
		if err != nil {
			for _, a := range out {
				a.Free()
			}
			return nil, err
		}
		out[t.Name] = a
	}
	return out, nil
}

// DType is the array's dtype.
func (a *Array) DType() DType {
	defer lock()()
	return DType(C.mlx_array_dtype(a.c))
}

// Shape is the array's shape.
func (a *Array) Shape() []int {
	defer lock()()
	n := int(C.mlx_array_ndim(a.c))
	out := make([]int, n)
	if n == 0 {
		return out
	}
	dims := unsafe.Slice(C.mlx_array_shape(a.c), n)
	for i, d := range dims {
		out[i] = int(d)
	}
	return out
}

// Bytes evaluates the array and returns a copy of its bytes, as MLX holds
// them (row-major, little-endian).
func (a *Array) Bytes() ([]byte, error) {
	defer lock()()
	if C.mlx_array_eval(a.c) != 0 {
		return nil, lastErr("mlx_array_eval")
	}
	n := int(C.mlx_array_nbytes(a.c))
	if n == 0 {
		return []byte{}, nil
	}
	p := C.mlx_array_data_uint8(a.c) // the raw buffer, whatever the dtype
	if p == nil {
		return nil, lastErr("mlx_array_data")
	}
	return C.GoBytes(unsafe.Pointer(p), C.int(n)), nil
}

// loadSafetensorsFile reads path with MLX's own mlx_load_safetensors. It
// opens the path, which is what the adapter exists to avoid: the tests use
// it as the reference MLX reading of the same file.
func loadSafetensorsFile(path string) (map[string]*Array, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	unlock := lock()
	defer unlock()
	s := C.mlx_default_cpu_stream_new()
	defer C.mlx_stream_free(s)
	arrs := C.mlx_map_string_to_array_new()
	defer C.mlx_map_string_to_array_free(arrs)
	meta := C.mlx_map_string_to_string_new()
	defer C.mlx_map_string_to_string_free(meta)
	if C.mlx_load_safetensors(&arrs, &meta, cpath, s) != 0 {
		return nil, lastErr("mlx_load_safetensors")
	}
	out := map[string]*Array{}
	it := C.mlx_map_string_to_array_iterator_new(arrs)
	defer C.mlx_map_string_to_array_iterator_free(it)
	for {
		var key *C.char
		v := C.mlx_array_new()
		if C.mlx_map_string_to_array_iterator_next(&key, &v, it) != 0 {
			C.mlx_array_free(v)
			break
		}
		a := &Array{c: v}
		runtime.SetFinalizer(a, (*Array).Free)
		out[C.GoString(key)] = a
	}
	if len(out) == 0 {
		return nil, errors.New("mlx_load_safetensors: no arrays")
	}
	return out, nil
}
