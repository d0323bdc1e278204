package mail

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Mask shows an address the way a log or a "check your inbox" page should:
// the first character of the local part, an ellipsis, and the domain, so
// "alice@example.com" becomes "a…@example.com". The ellipsis is there even
// when the local part is one character long, so a reader cannot tell a short
// address from a long one. Text with no "@" is not an address; all of it but
// the first character is hidden.
func Mask(address string) string {
	// The last "@" splits the domain off: a quoted local part may hold one.
	local, domain := address, ""
	if at := strings.LastIndex(address, "@"); at >= 0 {
		local, domain = address[:at], address[at:]
	}
	return firstCharacter(local) + "…" + domain
}

// firstCharacter is the first rune of s with the combining marks that follow
// it, so "e\u0301lodie" keeps its accent rather than showing a bare "e".
func firstCharacter(s string) string {
	_, n := utf8.DecodeRuneInString(s)
	for n < len(s) {
		r, size := utf8.DecodeRuneInString(s[n:])
		if !unicode.Is(unicode.M, r) {
			break
		}
		n += size
	}
	return s[:n]
}
