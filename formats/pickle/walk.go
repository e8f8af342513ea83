package pickle

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits of the opcode walk: it reads at most MaxWalkBytes and names at
// most MaxImports imports, whatever the input.
const (
	MaxWalkBytes = 1 << 20
	MaxImports   = 32
)

// walk is the result of reading opcodes from the start of a buffer.
type walk struct {
	ops     int      // opcodes read with well-formed arguments
	end     int      // offset where the walk stopped
	stopped bool     // reached STOP
	globals int      // GLOBAL, INST and STACK_GLOBAL opcodes read
	proto   int      // PROTO argument, or 0/1 for text-mode pickles
	imports []string // "module.name", in order, deduplicated
}

// walker reads opcodes and tracks the strings a STACK_GLOBAL would
// consume, through the memo, without building any object.
type walker struct {
	b       []byte
	pos     int
	w       walk
	recent  [2]string         // the last two string constants pushed
	memo    map[string]string // memo slots holding strings
	keys    map[string]bool   // every memo slot, for MEMOIZE's index
	seen    map[string]bool
	lastStr string
	top     bool // the last opcode pushed a string
}

// walkOpcodes reads opcodes from b until an invalid opcode or argument or
// the end of b. After a STOP it goes on into a following pickle, as
// stacked pickles (legacy PyTorch, multi-pickle payloads) are read by
// their loaders. It never executes anything.
func walkOpcodes(b []byte) walk {
	if len(b) > MaxWalkBytes {
		b = b[:MaxWalkBytes]
	}
	k := &walker{b: b, seen: map[string]bool{}}
	k.reset()
	for k.pos < len(k.b) {
		stopped := k.w.stopped
		if !k.step() {
			break
		}
		if !stopped && k.w.stopped {
			k.reset() // a following pickle has its own memo
		}
		k.w.ops++
	}
	k.w.end = k.pos
	return k.w
}

func (k *walker) reset() {
	k.memo, k.keys = map[string]string{}, map[string]bool{}
	k.recent, k.top = [2]string{}, false
}

func (k *walker) step() bool {
	op := opcodes[k.b[k.pos]]
	if op == nil {
		return false
	}
	code := k.b[k.pos]
	k.pos++
	arg, ok := k.arg(op)
	if !ok {
		return false
	}
	pushedString := false
	switch op.name {
	case "STOP":
		k.w.stopped = true
	case "PROTO":
		if arg[0] < 2 || arg[0] > 5 {
			return false
		}
		k.w.proto = int(arg[0])
	case "GLOBAL", "INST":
		mod, name, _ := strings.Cut(string(arg), "\n")
		if !identifier(mod) || !identifier(name) {
			return false
		}
		k.global(mod, name)
	case "STACK_GLOBAL":
		k.global(k.recent[0], k.recent[1])
	case "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING", "STRING":
		if !utf8.Valid(arg) && code != 'S' {
			return false
		}
		k.push(strings.Trim(string(arg), `'"`))
		pushedString = true
	case "MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT":
		key := memoKey(op.name, arg, len(k.keys))
		if len(k.keys) < 1<<16 {
			k.keys[key] = true
		}
		if k.top {
			k.memo[key] = k.lastStr
		}
		pushedString = k.top
	case "GET", "BINGET", "LONG_BINGET":
		if s, ok := k.memo[memoKey(op.name, arg, -1)]; ok {
			k.push(s)
			pushedString = true
		}
	}
	k.top = pushedString
	return true
}

// memoKey names a memo slot: MEMOIZE uses the next index (n), the others
// their argument.
func memoKey(op string, arg []byte, n int) string {
	switch op {
	case "MEMOIZE":
		return strconv.Itoa(n)
	case "PUT", "GET":
		return strings.TrimSpace(string(arg))
	case "BINPUT", "BINGET":
		return strconv.Itoa(int(arg[0]))
	}
	return strconv.Itoa(int(binary.LittleEndian.Uint32(arg)))
}

func (k *walker) push(s string) {
	k.recent[0], k.recent[1] = k.recent[1], s
	k.lastStr = s
}

func (k *walker) global(mod, name string) {
	k.w.globals++
	imp := mod + "." + name
	if mod == "" || name == "" || k.seen[imp] || len(k.w.imports) >= MaxImports {
		return
	}
	k.seen[imp] = true
	k.w.imports = append(k.w.imports, imp)
}

// arg returns op's argument bytes, checking they fit in the buffer.
func (k *walker) arg(op *opcode) ([]byte, bool) {
	rest := k.b[k.pos:]
	n := 0
	switch op.arg {
	case argNone:
		return nil, true
	case argLine:
		i := bytes.IndexByte(rest, '\n')
		if i < 0 || i > 256 {
			return nil, false
		}
		k.pos += i + 1
		return rest[:i], true
	case argTwoLines:
		i := bytes.IndexByte(rest, '\n')
		if i < 0 || i > 256 {
			return nil, false
		}
		j := bytes.IndexByte(rest[i+1:], '\n')
		if j < 0 || j > 256 {
			return nil, false
		}
		k.pos += i + 1 + j + 1
		return rest[:i+1+j], true
	case argFixed:
		n = op.size
	case argLen1, argLen4, argLen8:
		w := map[argKind]int{argLen1: 1, argLen4: 4, argLen8: 8}[op.arg]
		if len(rest) < w {
			return nil, false
		}
		var l uint64
		switch w {
		case 1:
			l = uint64(rest[0])
		case 4:
			l = uint64(binary.LittleEndian.Uint32(rest))
		default:
			l = binary.LittleEndian.Uint64(rest)
		}
		if l > uint64(len(rest)-w) {
			return nil, false
		}
		k.pos += w + int(l)
		return rest[w : w+int(l)], true
	}
	if len(rest) < n {
		return nil, false
	}
	k.pos += n
	return rest[:n], true
}

// identifier reports whether s could be a dotted Python module or
// attribute name (GLOBAL's arguments are text lines).
func identifier(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r > 127) {
			return false
		}
	}
	return true
}
