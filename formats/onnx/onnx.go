// Package onnx identifies an ONNX model (onnx.proto's ModelProto) by
// parsing its protobuf wire format, whatever the order of its fields, so
// that modelgate refuses it as a model format it does not load, never
// calls it text or unknown content (which an exclusion may excuse).
//
// onnx.load parses any protobuf (protobuf's ParseFromString keeps unknown
// fields and accepts fields in any order), then reads external data: a
// TensorProto whose data_location is EXTERNAL names a file by a
// `location` relative to the model, ../ included. onnxruntime runs the
// graph, custom-op domains included. Is therefore calls content ONNX when
//
//   - the whole file is one protobuf message (pbwire.Walk: every field
//     well-formed, the last one ending at the file's end), and
//   - it holds a graph (ModelProto field 7, length-delimited) whose
//     payload is itself a well-formed protobuf message.
//
// A ModelProto without a graph is no model anyone runs, and requiring one
// keeps text from being taken for ONNX by chance. ir_version is not
// required: onnx.load does not require it, and it reads external data
// without one. Field numbers other than ModelProto's are allowed, as
// protobuf allows them.
package onnx

import (
	"errors"
	"io"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/modelgate/modelgate/formats/internal/pbwire"
)

// ModelProto's graph field (onnx.proto: GraphProto graph = 7).
const graphField = 7

// Is reports whether the content of r (size bytes) is an ONNX model. The
// error is for I/O only.
func Is(r io.ReaderAt, size int64) (bool, error) {
	var graphs []pbwire.Field
	err := pbwire.Walk(r, 0, size, func(f pbwire.Field) error {
		if f.Num == graphField && f.Type == protowire.BytesType {
			graphs = append(graphs, f)
		}
		return nil
	})
	if err != nil || len(graphs) == 0 {
		return false, ioOnly(err)
	}
	for _, g := range graphs {
		if err := pbwire.Walk(r, g.Off, g.Off+g.Len, func(pbwire.Field) error { return nil }); err != nil {
			return false, ioOnly(err)
		}
	}
	return true, nil
}

func ioOnly(err error) error {
	if err == nil || errors.Is(err, pbwire.ErrNotProtobuf) {
		return nil
	}
	return err
}
