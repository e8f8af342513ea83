// Package mlxarray builds MLX arrays from a verified *loader.Model through
// mlx-c, without opening the model's file again: each array is made with
// mlx_array_new_data from the bytes loader.Model.Bytes hands out (the
// read-only mapping, or the private copy, that was hashed and parsed).
//
// The arrays need cgo and the build tag mlx, and link against MLX and
// mlx-c built from source (see the README, "The hand-off"). Without the tag
// only the dtype mapping and the checks are compiled, so the module builds
// and vets everywhere.
//
// MLX copies. mlx_array_new_data copies the buffer into MLX's allocator.
// mlx-c also offers mlx_array_new_data_managed, which hands MLX the pointer
// and a deleter; MLX 846d176 wraps that pointer only when its allocator
// implements make_buffer, which the Metal allocator does and the CPU
// allocator does not (there it copies and runs the deleter at once). The
// adapter therefore always copies, once, and an array stays valid after the
// model is closed.
package mlxarray
