// Package sentencepiece identifies a SentencePiece model
// (sentencepiece_model.proto's ModelProto): the tokenizer.model,
// spiece.model, spm.model (DeBERTa-v3) and source.spm/target.spm
// (MarianMT) files that ship beside weights. It is data for the
// sentencepiece library, which holds no code, so modelgate calls it an
// inert tokenizer by its content, whatever its name.
//
// Is parses the protobuf strictly, as the files the trainer
// (spm_train, sentencepiece.SentencePieceTrainer) writes are laid out,
// and refuses:
//
//   - anything that is not one well-formed protobuf message ending at
//     the file's end (pbwire.Walk), or does not start with a piece (the
//     trainer's serializer writes fields in number order; Is reads 512
//     bytes to decide that before it reads the file);
//   - a top-level field other than pieces (1), trainer_spec (2),
//     normalizer_spec (3), self_test_data (4) and denormalizer_spec (5),
//     or one of those that is not length-delimited (extensions 200 and up
//     are declared by the schema but written by no trainer);
//   - trainer_spec, normalizer_spec, self_test_data or denormalizer_spec
//     that is not itself a well-formed message, or that appears twice;
//   - a piece whose message has a field other than piece (1, a UTF-8
//     string), score (2, a float) and type (3, an enum from 1 to 6), any
//     of them twice, or no piece string;
//   - a model with no pieces, or with more than MaxPieces;
//   - a file over MaxBytes (it is read whole).
package sentencepiece

import (
	"errors"
	"io"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/internal/pbwire"
)

// Bounds of what Is reads. The largest vocabularies shipped (Gemma's
// 262,144 pieces) fit in about 5 MB.
const (
	MaxBytes  = 64 << 20
	MaxPieces = 1 << 22
)

// ModelProto's field numbers.
const (
	fieldPieces           = 1
	fieldTrainerSpec      = 2
	fieldNormalizerSpec   = 3
	fieldSelfTestData     = 4
	fieldDenormalizerSpec = 5
)

var errNot = errors.New("not a SentencePiece model")

// Is reports whether the content of r (size bytes) is a SentencePiece
// model. The error is for I/O only.
func Is(r io.ReaderAt, size int64) (bool, error) {
	if size <= 0 || size > MaxBytes {
		return false, nil
	}
	head := make([]byte, min(size, headBytes))
	if n, err := r.ReadAt(head, 0); n < len(head) {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return false, formats.IOError(0, err)
	}
	if !firstPiece(head) {
		return false, nil
	}
	b := make([]byte, size)
	if n, err := r.ReadAt(b, 0); int64(n) < size {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return false, formats.IOError(0, err)
	}
	return IsBytes(b), nil
}

// headBytes is how much Is reads before it reads a whole file: enough for
// the first piece.
const headBytes = 512

// firstPiece reports whether head starts as every model the trainer
// writes does (its serializer writes fields in number order, and a model
// has pieces): with field 1, length-delimited, holding a valid piece when
// head holds all of it.
func firstPiece(head []byte) bool {
	num, typ, n := protowire.ConsumeTag(head)
	if n < 0 || num != fieldPieces || typ != protowire.BytesType {
		return false
	}
	l, m := protowire.ConsumeVarint(head[n:])
	if m < 0 {
		return len(head) == headBytes // the length may be cut by the window
	}
	if rest := head[n+m:]; uint64(len(rest)) >= l {
		return piece(rest[:l]) == nil
	}
	return true
}

// IsBytes is Is for a model held in memory.
func IsBytes(b []byte) bool {
	if num, typ, n := protowire.ConsumeTag(b); n < 0 || num != fieldPieces || typ != protowire.BytesType {
		return false
	}
	pieces := 0
	seen := map[protowire.Number]bool{}
	err := pbwire.Bytes(b, func(f pbwire.Field) error {
		if f.Type != protowire.BytesType || f.Num < fieldPieces || f.Num > fieldDenormalizerSpec {
			return errNot
		}
		payload := b[f.Off : f.Off+f.Len]
		if f.Num == fieldPieces {
			pieces++
			if pieces > MaxPieces {
				return errNot
			}
			return piece(payload)
		}
		if seen[f.Num] {
			return errNot
		}
		seen[f.Num] = true
		return pbwire.Bytes(payload, func(pbwire.Field) error { return nil })
	})
	return err == nil && pieces > 0
}

// piece checks one SentencePiece message: piece, score and type.
func piece(b []byte) error {
	seen := map[protowire.Number]bool{}
	err := pbwire.Bytes(b, func(f pbwire.Field) error {
		if seen[f.Num] {
			return errNot
		}
		seen[f.Num] = true
		switch {
		case f.Num == 1 && f.Type == protowire.BytesType:
			if !utf8.Valid(b[f.Off : f.Off+f.Len]) {
				return errNot
			}
		case f.Num == 2 && f.Type == protowire.Fixed32Type:
		case f.Num == 3 && f.Type == protowire.VarintType && f.Value >= 1 && f.Value <= 6:
		default:
			return errNot
		}
		return nil
	})
	if err != nil || !seen[1] {
		return errNot
	}
	return nil
}
