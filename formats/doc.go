// Package formats is modelgate's shared vocabulary: the typed Error and its
// stable Kind, the DType of a tensor element, TensorInfo, the Limits every
// parser enforces, and Detect, which names a file's format from its content.
//
// The format packages below it (safetensors, npy, pickle) import only this
// package. Every refusal they return is an *Error whose Kind is one of the
// Kind constants, so a caller can decide with errors.Is:
//
//	if errors.Is(err, formats.KindPickle) { ... }
//
// and find where it happened with errors.As (Path, Field, Offset).
package formats
