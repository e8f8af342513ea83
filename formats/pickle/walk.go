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
// as lenient as CPython's unpickler (Python 3.11, both Modules/_pickle.c
// and Lib/pickle.py) at every step (any opcode may start a pickle; text
// arguments have no length cap; PROTO takes any value; memo misses are
// ignored once anything was memoized), so wherever it fails, the
// unpickler had failed already.
//
// Where CPython fails whatever an opcode's argument holds, the walk fails
// before reading the argument, so that a text argument with no newline in
// the bytes looked at does not leave it undecided: a persistent id in a
// first pickle (_pickle.c's load_persid raises before it reads the line
// when there is no persistent_load; pickle.py's default persistent_load
// raises), a memo put on an empty stack frame, a memo get before anything
// was memoized, an extension code <= 0. A text argument that CPython
// parses as a number (INT, LONG, FLOAT, GET, PUT) fails at the first byte
// that no number literal holds before its newline or NUL (or when it is
// empty), a STRING argument that does not start with a quote fails, and
// a GLOBAL or INST whose module or name line is not UTF-8 fails (CPython
// decodes them strictly before find_class), and so does one whose module
// line holds a NUL (CPython's find_class cannot import such a name; any
// other name reaching find_class is code); an argument whose declared length runs past
// the end of the whole content fails, as a read past the end does.
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

// inert reports whether the content is a pickle that runs nothing: the
// walk reached STOP (pickle.load returns a value) with no opcode that
// imports or calls anything, and the walk then failed, so no further
// pickle can be loaded after it. pickle.load on such content returns a
// number, string, bytes or container of them, and nothing more.
func (w walk) inert() bool { return w.stopped && !w.code && w.failed && !w.bounded }

// walker reads opcodes and tracks the stack depth above each mark (as
// Python's unpickler does: MARK starts a new frame, and a pop never
// crosses a mark), and the strings a STACK_GLOBAL would consume, through
// the memo, without building any object.
type walker struct {
	b        []byte
	complete bool  // b is the whole content, not a prefix
	size     int64 // the whole content's size, or -1 when unknown
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

// walkOpcodes walks b, the first len(b) bytes of content of size bytes
// (-1 when unknown: b is then taken as a prefix). After a STOP it goes on
// into a following pickle (legacy PyTorch and multi-pickle payloads stack
// them) to name more imports.
func walkOpcodes(b []byte, size int64) walk {
	complete := size >= 0 && int64(len(b)) >= size
	if len(b) > MaxWalkBytes {
		b, complete = b[:MaxWalkBytes], false
	}
	k := &walker{b: b, complete: complete, size: size, seen: map[string]bool{}}
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
	if why := k.failsWhateverArg(op); why != "" {
		k.fail(why)
		return
	}
	k.pos++
	if why := k.badText(op); why != "" {
		k.pos = start
		k.fail(why)
		return
	}
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

// failsWhateverArg says why CPython's unpickler fails at op whatever its
// argument holds, or "" (see walk).
func (k *walker) failsWhateverArg(op *opcode) string {
	switch op.name {
	case "PERSID", "BINPERSID", "NEXT_BUFFER":
		// pickle.load raises without a persistent_load or buffers, and
		// nothing loads a file's first pickle with them; a later pickle of
		// a stack (legacy torch.save's main one) has a persistent_load.
		if !k.w.stopped {
			return op.name + " without a handler"
		}
	case "PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE":
		if k.frames[len(k.frames)-1] < 1 {
			return op.name + " on an empty stack"
		}
	case "GET", "BINGET", "LONG_BINGET":
		if k.keys == 0 {
			return op.name + " before anything was memoized"
		}
	}
	return ""
}

// numberText are the bytes a number literal may hold in a text argument
// CPython parses as one: int(x, 0) and PyLong_FromString (INT, LONG, GET,
// PUT: digits, hex, base prefixes, underscores, signs, whitespace, LONG's
// trailing L) and float() and PyOS_string_to_double (FLOAT: also ".",
// exponents, inf, infinity, nan). It is a superset of each.
var numberText = func() (set [256]bool) {
	for _, c := range []byte("0123456789abcdefABCDEFxXoObBlL_+-. \t\r\v\finfatyINFATY") {
		set[c] = true
	}
	return set
}()

// badText says why a text argument starting at k.pos cannot be what
// CPython parses it as, from the bytes there before its newline (or, for
// the C unpickler's numbers, a NUL, which ends the C string it parses), or
// "" when they do not show it.
func (k *walker) badText(op *opcode) string {
	rest := k.b[k.pos:]
	switch op.name {
	case "INT", "LONG", "FLOAT", "GET", "PUT":
		switch {
		case len(rest) > 0 && rest[0] == '\n':
			return op.name + " argument is empty" // len < 2: bad_readline
		case len(rest) > 0 && rest[0] == 0 && op.name != "INT":
			// An empty C string: PyOS_string_to_double and
			// PyLong_FromString fail; load_int's strtol takes it as 0.
			return op.name + " argument is empty"
		}
		for _, c := range rest {
			switch {
			case c == '\n' || c == 0:
				return ""
			case !numberText[c]:
				return op.name + " argument is not a number"
			}
		}
	case "STRING":
		if len(rest) > 0 && rest[0] != '\'' && rest[0] != '"' {
			return "STRING argument is not quoted"
		}
	case "GLOBAL", "INST":
		// load_global and load_inst (and pickle.py) decode the module and
		// then the name line as strict UTF-8 before find_class.
		// A last line with no newline at the end of the content loses its
		// last byte (both drop what they take to be the newline).
		lines := bytes.SplitN(rest, []byte{'\n'}, 3)
		module := lines[0]
		if len(lines) == 1 && k.complete && len(module) > 0 {
			module = module[:len(module)-1] // the dropped "newline"
		}
		if bytes.IndexByte(module, 0) >= 0 {
			// find_class's __import__ cannot find a module named with a
			// NUL (ModuleNotFoundError) and runs nothing.
			return op.name + " module name holds a NUL"
		}
		for i, line := range lines[:min(2, len(lines))] {
			ended := i < len(lines)-1
			if !ended && k.complete && len(line) > 0 {
				line = line[:len(line)-1]
			}
			if !utf8Prefix(line, ended || k.complete) {
				return op.name + " argument is not UTF-8"
			}
		}
	case "EXT1", "EXT2", "EXT4":
		// load_extension and get_extension raise on a code <= 0 before
		// any lookup.
		if n := map[string]int{"EXT1": 1, "EXT2": 2, "EXT4": 4}[op.name]; len(rest) >= n {
			if code := int32(argUint(rest[:n])); code <= 0 {
				return op.name + " code <= 0"
			}
		}
	}
	return ""
}

// utf8Prefix reports whether b is UTF-8, or, when it may go on past the
// bytes looked at (!whole), the start of UTF-8 text cut inside a rune.
func utf8Prefix(b []byte, whole bool) bool {
	if utf8.Valid(b) {
		return true
	}
	for cut := 1; !whole && cut <= 3 && cut <= len(b); cut++ {
		if tail := b[len(b)-cut:]; !utf8.FullRune(tail) && utf8.Valid(b[:len(b)-cut]) {
			return true
		}
	}
	return false
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
		// A first pickle's failed in failsWhateverArg.
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

// take returns l bytes of rest after a w-byte length field. An argument
// past the end of the whole content fails; past the end of b only, the
// walk is undecided.
func (k *walker) take(rest []byte, w int, l uint64) ([]byte, bool) {
	if l > uint64(len(rest)-w) {
		if k.size >= 0 && l > uint64(k.size-int64(k.pos)-int64(w)) {
			k.fail("argument runs past the end of the content")
			return nil, false
		}
		k.endOfBuffer("argument runs past the end")
		return nil, false
	}
	k.pos += w + int(l)
	return rest[w : w+int(l)], true
}

// line returns a text argument: up to '\n' (CPython's readline has no
// length cap), or to the end of complete content less its last byte (the
// C unpickler reads a last line without its newline, and drops its last
// byte as if it were one).
func (k *walker) line(b []byte) (line []byte, n int, ok bool) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i], i + 1, true
	}
	if k.complete && len(b) > 0 {
		// readline returns the rest, and every opcode drops its last byte
		// as the newline (pickle.py's [:-1] too).
		return b[:len(b)-1], len(b), true
	}
	k.endOfBuffer("text argument runs past the end")
	return nil, 0, false
}
