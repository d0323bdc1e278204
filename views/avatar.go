package views

import (
	"hash/fnv"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// avatarColours is how many avatar colours app.css defines (.av-0 …).
const avatarColours = 16

// Initials are the one or two letters on someone's avatar, from the part of
// their email before the @: "ada.lovelace@…" is "AL", "bob@…" is "B".
func Initials(email string) string {
	local, _, _ := strings.Cut(email, "@")
	parts := strings.FieldsFunc(local, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	var initials []rune
	for _, p := range parts[:min(2, len(parts))] {
		r, _ := utf8.DecodeRuneInString(p)
		initials = append(initials, unicode.ToUpper(r))
	}
	if len(initials) == 0 {
		return "?"
	}
	return string(initials)
}

// AvatarClass picks someone's avatar colour from a hash of their address.
// The hash never leaves the server (unlike Gravatar's): the page only says
// which of a few colours to use.
func AvatarClass(email string) string {
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(email)))
	return "av-" + strconv.Itoa(int(h.Sum32()%avatarColours))
}
