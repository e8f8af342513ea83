package pickle

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits of the opcode walk: it reads at most MaxWalkBytes and names at
// most MaxImports imports, whatever the input. A walk that reaches
// MaxWalkBytes undecided is a pickle: only a proof clears content.
const (
	MaxWalkBytes = 1 << 20
	MaxImports   = 32
)

// walk is the result of reading opcodes from the start of a buffer the
// way Python's pickle machine would, without executing anything.
//
// Content is proven not to be a pickle only when the walk fails (an
// invalid opcode, an argument running past the end of the content, or a
// stack or mark underflow: each makes pickle.load raise) before it reaches
// STOP or an opcode that imports or calls something. The walk is at least
// as lenient as both CPython's unpickler and pickletools.genops at every
// step (any opcode may start a pickle; text arguments have no length cap;
// PROTO takes any value; memo misses are ignored), so wherever it fails,
// both of them had failed already.
type walk struct {
	ops      int      // opcodes read with well-formed arguments
	end      int      // offset where the walk stopped
	stopped  bool     // reached STOP with a value on the stack
	code     bool     // reached an opcode that imports or calls, with its operands
	failed   bool     // Python's unpickler raises at end: proven not a pickle (unless stopped or code)
	bounded  bool     // the buffer ended before the content did: undecided
	globals  int      // GLOBAL, INST, STACK_GLOBAL and EXT opcodes reached
	proto    int      // PROTO argument, or 0 for text-mode pickles
	imports  []string // "module.name", in order, deduplicated
	firstBad string   // why the walk failed, for tests and messages
}

// pickle reports whether the walk decided "pickle": STOP or code reached,
// or the walk bound met undecided.
func (w walk) pickle() bool { return w.stopped || w.code || (w.bounded && !w.failed) }

// walker reads opcodes and tracks the stack depth above each mark (as
// Python's unpickler does: MARK starts a new frame, and a pop never
// crosses a mark), and the strings a STACK_GLOBAL would consume, through
// the memo, without building any object.
type walker struct {
	b        []byte
	complete bool // b is the whole content, not a prefix
	pos      int
	w        walk
	frames   []int // items above each mark; frames[0] is the base
	recent   [2]string
	memo     map[string]string // memo slots holding strings
	keys     int               // memo slots assigned, for MEMOIZE's index
	seen     map[string]bool
	lastStr  string
	top      bool // the last opcode pushed a string
}

// walkOpcodes walks b, the first len(b) bytes of content that ends there
// when complete. After a STOP it goes on into a following pickle (legacy
// PyTorch and multi-pickle payloads stack them) to name more imports.
func walkOpcodes(b []byte, complete bool) walk {
	if len(b) > MaxWalkBytes {
		b, complete = b[:MaxWalkBytes], false
	}
	k := &walker{b: b, complete: complete, seen: map[string]bool{}}
	k.reset()
	for !k.w.failed && !k.w.bounded {
		if k.pos >= len(k.b) {
			k.endOfBuffer("content ends without STOP")
			break
		}
		k.step()
	}
	k.w.end = k.pos
	return k.w
}

func (k *walker) reset() {
	k.frames = []int{0}
	k.memo, k.keys = map[string]string{}, 0
	k.recent, k.top = [2]string{}, false
}

// endOfBuffer ends the walk at the end of b: a failure when b is the
// whole content (Python raises on truncated data), undecided otherwise.
func (k *walker) endOfBuffer(why string) {
	if k.complete {
		k.fail(why)
	} else {
		k.w.bounded = true
	}
}

func (k *walker) fail(why string) {
	k.w.failed = true
	if k.w.firstBad == "" {
		k.w.firstBad = why
	}
}

// need checks that the current frame holds n items; it fails the walk
// otherwise (stack underflow).
func (k *walker) need(n int) bool {
	if k.frames[len(k.frames)-1] < n {
		k.fail("stack underflow")
		return false
	}
	return true
}

func (k *walker) pop(n int)  { k.frames[len(k.frames)-1] -= n }
func (k *walker) push(n int) { k.frames[len(k.frames)-1] += n }

// popMark removes the top mark and the items above it; it fails the walk
// when there is no mark.
func (k *walker) popMark() bool {
	if len(k.frames) == 1 {
		k.fail("no MARK to pop to")
		return false
	}
	k.frames = k.frames[:len(k.frames)-1]
	return true
}

func (k *walker) step() {
	code := k.b[k.pos]
	op := opcodes[code]
	if op == nil {
		k.fail("invalid opcode " + strconv.Quote(string(rune(code))))
		return
	}
	start := k.pos
	k.pos++
	arg, ok := k.arg(op)
	if !ok {
		k.pos = start
		return
	}
	if !k.effect(op, code, arg) {
		k.pos = start
		return
	}
	k.w.ops++
}

// effect applies op's stack effect; false means the walk failed here.
func (k *walker) effect(op *opcode, code byte, arg []byte) bool {
	pushedString := false
	switch op.name {
	case "MARK":
		k.frames = append(k.frames, 0)
	case "STOP":
		if !k.need(1) {
			return false
		}
		k.w.stopped = true
		k.reset() // a following pickle has its own stack and memo
		return true
	case "POP":
		if k.frames[len(k.frames)-1] > 0 {
			k.pop(1)
		} else if !k.popMark() {
			return false
		}
	case "POP_MARK":
		if !k.popMark() {
			return false
		}
	case "DUP", "READONLY_BUFFER", "TUPLE1":
		if !k.need(1) {
			return false
		}
		if op.name == "DUP" {
			k.push(1)
		}
	case "PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE":
		if !k.need(1) {
			return false
		}
		key := memoKey(op.name, arg, k.keys)
		k.keys++
		if k.top && len(k.memo) < 1<<16 {
			k.memo[key] = k.lastStr
		}
		pushedString = k.top
	case "GET", "BINGET", "LONG_BINGET":
		k.push(1)
		if s, ok := k.memo[memoKey(op.name, arg, -1)]; ok {
			k.pushString(s)
			pushedString = true
		}
	case "PERSID", "BINPERSID", "NEXT_BUFFER":
		// pickle.load raises without a persistent_load or buffers, and
		// nothing loads a file's first pickle with them; a later pickle of
		// a stack (legacy torch.save's main one) has a persistent_load.
		if !k.w.stopped {
			k.fail(op.name + " without a handler")
			return false
		}
		if op.name == "BINPERSID" && !k.need(1) {
			return false
		}
		if op.name != "BINPERSID" {
			k.push(1)
		}
	case "GLOBAL", "INST":
		mod, name, _ := strings.Cut(string(arg), "\n")
		if !utf8.ValidString(mod) || !utf8.ValidString(name) {
			k.fail("GLOBAL arguments are not UTF-8")
			return false
		}
		// find_class runs before INST looks for its mark.
		k.global(mod, name)
		if op.name == "INST" && !k.popMark() {
			k.w.failed = false // the import has happened: code
			k.frames = []int{1}
		}
		k.push(1)
	case "STACK_GLOBAL":
		if !k.need(2) {
			return false
		}
		k.global(k.recent[0], k.recent[1])
		k.pop(1)
	case "EXT1", "EXT2", "EXT4":
		k.global("copyreg", "extension "+strconv.Itoa(int(argUint(arg))))
		k.push(1)
	case "REDUCE", "BUILD", "NEWOBJ":
		if !k.need(2) {
			return false
		}
		k.w.code = true
		k.pop(1)
	case "NEWOBJ_EX":
		if !k.need(3) {
			return false
		}
		k.w.code = true
		k.pop(2)
	case "OBJ":
		if len(k.frames) == 1 || k.frames[len(k.frames)-1] < 1 {
			k.fail("OBJ without a class after a MARK")
			return false
		}
		k.w.code = true
		k.popMark()
		k.push(1)
	case "APPEND":
		if !k.need(2) {
			return false
		}
		k.pop(1)
	case "SETITEM":
		if !k.need(3) {
			return false
		}
		k.pop(2)
	case "TUPLE2":
		if !k.need(2) {
			return false
		}
		k.pop(1)
	case "TUPLE3":
		if !k.need(3) {
			return false
		}
		k.pop(2)
	case "APPENDS", "SETITEMS", "ADDITEMS":
		if !k.popMark() || !k.need(1) {
			return false
		}
	case "DICT", "LIST", "TUPLE", "FROZENSET":
		if !k.popMark() {
			return false
		}
		k.push(1)
	case "PROTO":
		k.w.proto = int(arg[0])
	case "FRAME":
	case "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING", "STRING":
		k.push(1)
		if utf8.Valid(arg) || code == 'S' {
			k.pushString(strings.Trim(string(arg), `'"`))
			pushedString = true
		}
	default: // every other opcode pushes one value
		k.push(1)
	}
	k.top = pushedString
	return true
}

// argUint reads a fixed little-endian argument of 1, 2 or 4 bytes.
func argUint(arg []byte) uint32 {
	var b [4]byte
	copy(b[:], arg)
	return binary.LittleEndian.Uint32(b[:])
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

func (k *walker) pushString(s string) {
	k.recent[0], k.recent[1] = k.recent[1], s
	k.lastStr = s
}

// global records an import: reaching one is code, whatever its operands
// name (an import runs the module).
func (k *walker) global(mod, name string) {
	k.w.code = true
	k.w.globals++
	imp := mod + "." + name
	if mod == "" || name == "" || k.seen[imp] || len(k.w.imports) >= MaxImports {
		return
	}
	k.seen[imp] = true
	k.w.imports = append(k.w.imports, imp)
}

// arg returns op's argument bytes, advancing past them. It ends the walk
// (failed or undecided) when the argument runs past the buffer.
func (k *walker) arg(op *opcode) ([]byte, bool) {
	rest := k.b[k.pos:]
	switch op.arg {
	case argNone:
		return nil, true
	case argLine:
		line, n, ok := k.line(rest)
		if !ok {
			return nil, false
		}
		k.pos += n
		return line, true
	case argTwoLines:
		l1, n1, ok := k.line(rest)
		if !ok {
			return nil, false
		}
		l2, n2, ok := k.line(rest[n1:])
		if !ok {
			return nil, false
		}
		k.pos += n1 + n2
		return append(append(append([]byte{}, l1...), '\n'), l2...), true
	case argFixed:
		return k.take(rest, 0, uint64(op.size))
	}
	w := map[argKind]int{argLen1: 1, argLen4: 4, argLen8: 8}[op.arg]
	if len(rest) < w {
		k.endOfBuffer(op.name + " length runs past the end")
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
	return k.take(rest, w, l)
}

// take returns l bytes of rest after a w-byte length field.
func (k *walker) take(rest []byte, w int, l uint64) ([]byte, bool) {
	if l > uint64(len(rest)-w) {
		k.endOfBuffer("argument runs past the end")
		return nil, false
	}
	k.pos += w + int(l)
	return rest[w : w+int(l)], true
}

// line returns a text argument: up to '\n' (CPython's readline has no
// length cap), or to the end of complete content (the C unpickler reads a
// last line without its newline).
func (k *walker) line(b []byte) (line []byte, n int, ok bool) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i], i + 1, true
	}
	if k.complete && len(b) > 0 {
		return b, len(b), true
	}
	k.endOfBuffer("text argument runs past the end")
	return nil, 0, false
}
