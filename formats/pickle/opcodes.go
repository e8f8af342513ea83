package pickle

// argKind says how an opcode's argument is encoded.
type argKind uint8

const (
	argNone     argKind = iota
	argLine             // text up to '\n'
	argTwoLines         // GLOBAL, INST: module '\n' name '\n'
	argFixed            // fixed number of bytes (size)
	argLen1             // 1-byte length, then that many bytes
	argLen4             // 4-byte little-endian length, then bytes
	argLen8             // 8-byte little-endian length, then bytes
)

type opcode struct {
	name string
	arg  argKind
	size int  // for argFixed
	text bool // protocol 0/1 opcode (may start a text-mode pickle)
}

// opcodes is pickletools' table: every opcode of protocols 0 to 5 and how
// its argument is laid out. Anything else is not a pickle.
var opcodes = [256]*opcode{
	'(': {name: "MARK", text: true}, '.': {name: "STOP", text: true}, '0': {name: "POP", text: true},
	'1': {name: "POP_MARK", text: true}, '2': {name: "DUP", text: true},
	'F': {name: "FLOAT", arg: argLine, text: true}, 'I': {name: "INT", arg: argLine, text: true},
	'J': {name: "BININT", arg: argFixed, size: 4, text: true}, 'K': {name: "BININT1", arg: argFixed, size: 1, text: true},
	'L': {name: "LONG", arg: argLine, text: true}, 'M': {name: "BININT2", arg: argFixed, size: 2, text: true},
	'N': {name: "NONE", text: true}, 'P': {name: "PERSID", arg: argLine, text: true}, 'Q': {name: "BINPERSID", text: true},
	'R': {name: "REDUCE", text: true}, 'S': {name: "STRING", arg: argLine, text: true},
	'T': {name: "BINSTRING", arg: argLen4, text: true}, 'U': {name: "SHORT_BINSTRING", arg: argLen1, text: true},
	'V': {name: "UNICODE", arg: argLine, text: true}, 'X': {name: "BINUNICODE", arg: argLen4, text: true},
	'a': {name: "APPEND", text: true}, 'b': {name: "BUILD", text: true}, 'c': {name: "GLOBAL", arg: argTwoLines, text: true},
	'd': {name: "DICT", text: true}, '}': {name: "EMPTY_DICT", text: true}, 'e': {name: "APPENDS", text: true},
	'g': {name: "GET", arg: argLine, text: true}, 'h': {name: "BINGET", arg: argFixed, size: 1, text: true},
	'i': {name: "INST", arg: argTwoLines, text: true}, 'j': {name: "LONG_BINGET", arg: argFixed, size: 4, text: true},
	'l': {name: "LIST", text: true}, ']': {name: "EMPTY_LIST", text: true}, 'o': {name: "OBJ", text: true},
	'p': {name: "PUT", arg: argLine, text: true}, 'q': {name: "BINPUT", arg: argFixed, size: 1, text: true},
	'r': {name: "LONG_BINPUT", arg: argFixed, size: 4, text: true}, 's': {name: "SETITEM", text: true},
	't': {name: "TUPLE", text: true}, ')': {name: "EMPTY_TUPLE", text: true}, 'u': {name: "SETITEMS", text: true},
	'G':  {name: "BINFLOAT", arg: argFixed, size: 8, text: true},
	0x80: {name: "PROTO", arg: argFixed, size: 1}, 0x81: {name: "NEWOBJ"},
	0x82: {name: "EXT1", arg: argFixed, size: 1}, 0x83: {name: "EXT2", arg: argFixed, size: 2},
	0x84: {name: "EXT4", arg: argFixed, size: 4}, 0x85: {name: "TUPLE1"}, 0x86: {name: "TUPLE2"},
	0x87: {name: "TUPLE3"}, 0x88: {name: "NEWTRUE"}, 0x89: {name: "NEWFALSE"},
	0x8a: {name: "LONG1", arg: argLen1}, 0x8b: {name: "LONG4", arg: argLen4},
	'B': {name: "BINBYTES", arg: argLen4}, 'C': {name: "SHORT_BINBYTES", arg: argLen1},
	0x8c: {name: "SHORT_BINUNICODE", arg: argLen1}, 0x8d: {name: "BINUNICODE8", arg: argLen8},
	0x8e: {name: "BINBYTES8", arg: argLen8}, 0x8f: {name: "EMPTY_SET"}, 0x90: {name: "ADDITEMS"},
	0x91: {name: "FROZENSET"}, 0x92: {name: "NEWOBJ_EX"}, 0x93: {name: "STACK_GLOBAL"},
	0x94: {name: "MEMOIZE"}, 0x95: {name: "FRAME", arg: argFixed, size: 8},
	0x96: {name: "BYTEARRAY8", arg: argLen8}, 0x97: {name: "NEXT_BUFFER"}, 0x98: {name: "READONLY_BUFFER"},
}
