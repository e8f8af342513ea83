package strictzip

import (
	"strings"
	"unicode/utf8"

	"github.com/modelgate/modelgate/formats"
)

// cp437High is code page 437 from 0x80 to 0xFF, as Python's codec maps it
// (the low half is ASCII).
const cp437High = "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0"

var cp437 = func() (t [128]rune) {
	i := 0
	for _, r := range cp437High {
		t[i] = r
		i++
	}
	return t
}()

// decodeName decodes a raw member name as Python's zipfile does (and so
// numpy, which looks members up by the decoded name): UTF-8 when flag bit
// 11 is set, code page 437 otherwise. Readers disagree on the rest, so it
// is refused: zipfile cuts a name at its first NUL; without the flag,
// archive/zip and miniz take non-ASCII bytes as they are where zipfile
// reads code page 437; under the flag, zipfile raises on invalid UTF-8.
func decodeName(raw string, utf8Flag bool, at int64) (string, *formats.Error) {
	if strings.IndexByte(raw, 0) >= 0 {
		return "", malformed(at, "entry name %q holds a NUL byte, which zipfile cuts the name at", raw)
	}
	if utf8Flag {
		if !utf8.ValidString(raw) {
			return "", malformed(at, "entry name %q is flagged UTF-8 but is not", raw)
		}
		return raw, nil
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] >= 0x80 {
			return "", malformed(at, "entry name %q has non-ASCII bytes without the UTF-8 flag: zipfile reads them as code page 437 (%q), archive/zip and miniz as they are", raw, decodeCP437(raw))
		}
	}
	return raw, nil
}

// decodeCP437 decodes without refusing anything: every byte has a
// character in code page 437.
func decodeCP437(raw string) string {
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c < 0x80 {
			b.WriteByte(c)
		} else {
			b.WriteRune(cp437[c-0x80])
		}
	}
	return b.String()
}
