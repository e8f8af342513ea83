package formats

import "math"

// Limits bounds every count and size a parser will accept before it reads
// or allocates anything. A zero field means "use the default"; the defaults
// are the Default* constants below. Use WithDefaults to see the effective
// values.
//
// Every refusal caused by a limit has kind KindLimitExceeded and quotes the
// limit by name, for example "header is 120000000 bytes; limit is
// MaxHeaderBytes=99999999".
type Limits struct {
	// MaxHeaderBytes caps a safetensors JSON header (inclusive).
	MaxHeaderBytes int64
	// MaxTensors caps the number of tensors (or npz members) in one file.
	MaxTensors int64
	// MaxRank caps the number of dimensions of one tensor.
	MaxRank int64
	// MaxDim caps each dimension. The default, math.MaxInt32, refuses the
	// dimensions that MLX silently truncates to int32.
	MaxDim int64
	// MaxTotalBytes caps the sum of all tensor data in one file.
	MaxTotalBytes int64
	// MaxNameBytes caps the length of one tensor name or metadata key.
	MaxNameBytes int64
	// MaxNpyHeaderBytes caps an .npy header (numpy's own cap is 10000).
	MaxNpyHeaderBytes int64
	// MaxDecompressedBytes caps the bytes one deflated archive member may
	// inflate to; such members are held in memory.
	MaxDecompressedBytes int64
	// MaxCompressionRatio caps a deflated member's size/compressed size.
	MaxCompressionRatio int64
	// MaxMetadataEntries caps the entries of one file's free-form
	// metadata (safetensors __metadata__, a sharded index's metadata).
	MaxMetadataEntries int64
	// MaxMetadataBytes caps the bytes of one file's free-form metadata,
	// keys and values together.
	MaxMetadataBytes int64
}

// The default limits. They admit every real model known to the authors
// while bounding what a hostile file can make a reader do.
//
// DefaultMaxTensors is per file. The figures behind it, computed from the
// published configs (tensors per layer times layers, plus embeddings and
// norms): Llama-3.1-405B holds 126 x 9 + 3 = 1,137 tensors in all;
// Mixtral-8x22B 56 x (4 + 8 x 3 + 3) + 3 = 1,739; DeepSeek-V3 about
// 90,000 (58 MoE layers x 256 routed experts x 3 projections, each with
// an FP8 scale_inv tensor, plus attention and shared experts), which its
// index spreads over 163 shards of a few hundred each; an MLX 4-bit
// conversion triples the count (weight, scales, biases) and is sharded
// the same way. Hub shards are at most a few GB, so a real file holds a
// few thousand tensors at most; 65,536 leaves a wide margin, and a model
// saved whole in one file can raise it (policy max_tensors). The cap
// matters: MLX spends about 36 s loading a file of 300,000 zero-size
// tensors, which the previous default (1,048,576) admitted. A sharded
// index, which names every tensor of a model, has its own cap
// (loader.MaxIndexTensors).
const (
	// DefaultMaxHeaderBytes is one below 100,000,000: MLX refuses a header
	// of N >= 1e8 bytes, the Rust reference allows exactly 1e8, and
	// modelgate follows the stricter.
	DefaultMaxHeaderBytes       = 100_000_000 - 1
	DefaultMaxTensors           = 1 << 16
	DefaultMaxRank              = 32
	DefaultMaxDim               = math.MaxInt32
	DefaultMaxTotalBytes        = 1 << 40 // 1 TiB
	DefaultMaxNameBytes         = 4096
	DefaultMaxNpyHeaderBytes    = 10_000
	DefaultMaxDecompressedBytes = 64 << 20 // 64 MiB
	DefaultMaxCompressionRatio  = 200
	// DefaultMaxMetadataEntries and DefaultMaxMetadataBytes admit the
	// largest metadata real files carry (training tools such as kohya's
	// store a few dozen keys, some holding JSON of a few hundred KB),
	// while a header of millions of tiny entries, which cost gigabytes
	// to hold as a map, is refused at once.
	DefaultMaxMetadataEntries = 8192
	DefaultMaxMetadataBytes   = 16 << 20
)

// DefaultLimits returns the default limits with every field set.
func DefaultLimits() Limits { return Limits{}.WithDefaults() }

// WithDefaults returns l with every zero field replaced by its default.
func (l Limits) WithDefaults() Limits {
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxHeaderBytes, DefaultMaxHeaderBytes)
	def(&l.MaxTensors, DefaultMaxTensors)
	def(&l.MaxRank, DefaultMaxRank)
	def(&l.MaxDim, DefaultMaxDim)
	def(&l.MaxTotalBytes, DefaultMaxTotalBytes)
	def(&l.MaxNameBytes, DefaultMaxNameBytes)
	def(&l.MaxNpyHeaderBytes, DefaultMaxNpyHeaderBytes)
	def(&l.MaxDecompressedBytes, DefaultMaxDecompressedBytes)
	def(&l.MaxCompressionRatio, DefaultMaxCompressionRatio)
	def(&l.MaxMetadataEntries, DefaultMaxMetadataEntries)
	def(&l.MaxMetadataBytes, DefaultMaxMetadataBytes)
	return l
}

// Exceeded returns the refusal for value over the limit named name.
func Exceeded(offset int64, what string, value int64, name string, limit int64) *Error {
	return Errorf(KindLimitExceeded, offset, "%s is %d; limit is %s=%d", what, value, name, limit)
}
