package handlers

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// maxEmailBytes is the longest address SMTP allows (RFC 5321's path limit).
const maxEmailBytes = 254

// domainForm turns an address's domain into the one form everybody sees:
// lowercased, mapped (full-width letters become ASCII ones) and in ASCII
// (IDNA), so that a domain written with letters of another script shows as
// the xn-- name it really is instead of passing as a familiar one.
var domainForm = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.ValidateLabels(true), idna.StrictDomainName(true))

// validateEmail returns the address to join with, or a sentence saying what
// is wrong with it. The address returned is normalised (NFC; the domain in
// its lowercase ASCII form), so two addresses that look the same on screen
// are the same address.
func validateEmail(raw string) (string, string) {
	email := strings.TrimSpace(raw)
	switch {
	case email == "":
		return "", "Type your email address to join."
	case !utf8.ValidString(email):
		return "", "That email address contains characters that are not text."
	// A plain space is a typo, answered below like any other.
	case strings.IndexFunc(email, func(r rune) bool { return r != ' ' && hidden(r) }) >= 0:
		return "", "That email address contains invisible or direction-changing characters. Type it again by hand."
	// Apostrophes stay allowed: o'brien@example.com is a real address.
	case strings.ContainsAny(email, `<>"&`):
		return "", `An email address can't contain <, >, " or &.`
	}
	email = norm.NFC.String(email)
	local, domain, ok := strings.Cut(email, "@")
	if ok && domain != "" && !strings.Contains(domain, "@") && len(email) <= maxEmailBytes {
		ascii, err := domainForm.ToASCII(domain)
		if err != nil {
			return "", "The part after @ is not a valid domain name."
		}
		if norm.NFKC.String(local) != local || mixedScripts(local) {
			return "", "The part before @ mixes look-alike characters (such as letters from different alphabets). Type it again by hand."
		}
		email = local + "@" + ascii
	}
	if len(email) > maxEmailBytes {
		return "", fmt.Sprintf("That email address is too long: at most %d characters.", maxEmailBytes)
	}
	addr, err := mail.ParseAddress(email)
	// Only a bare address like bob@example.com: no display name, no
	// comments, nothing that parses to something other than what was typed.
	if err != nil || addr.Name != "" || addr.Address != email || !ok {
		return "", "That doesn't look like an email address. Try something like bob@example.com."
	}
	return email, ""
}

// hidden reports whether r shows as nothing, or changes how the text
// around it is shown rather than showing itself: control characters (C0,
// C1), format characters (Cf: bidi embeddings, overrides and isolates,
// zero-width spaces and joiners, soft hyphens, tags), other default-ignorable
// code points (Hangul fillers, variation selectors) and blank characters
// that are not spaces (the braille blank). None belongs in an address.
func hidden(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zs, unicode.Zl, unicode.Zp,
		unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector) ||
		r == '\u2800' || r == '\u034f'
}

// mixedScripts reports whether s has letters from more than one script, the
// way a Cyrillic "а" passes for a Latin "a". Digits and punctuation belong to
// every script.
func mixedScripts(s string) bool {
	var first *unicode.RangeTable
	for _, r := range s {
		if !unicode.IsLetter(r) {
			continue
		}
		script := scriptOf(r)
		if script == nil {
			continue
		}
		if first == nil {
			first = script
		} else if script != first {
			return true
		}
	}
	return false
}

// scriptOf is r's script, or nil for one shared by all (Common, Inherited).
func scriptOf(r rune) *unicode.RangeTable {
	for name, table := range unicode.Scripts {
		if name == "Common" || name == "Inherited" {
			continue
		}
		if unicode.Is(table, r) {
			return table
		}
	}
	return nil
}

// validateMessage returns the text to store, or a sentence saying what is
// wrong with it. Line breaks are normalised to \n and surrounding space is
// trimmed; other control characters are refused, since they only ever hide
// or disguise text. Format characters stay (joiners shape Persian words and
// emoji, direction marks help mixed Hebrew and English); every message is
// shown isolated, so they cannot reach past their own message.
func validateMessage(raw string, maxLength int) (string, string) {
	if !utf8.ValidString(raw) {
		return "", "That message contains characters that are not text."
	}
	text := strings.TrimSpace(strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(raw))
	if text == "" {
		return "", "Write a message before sending."
	}
	if n := utf8.RuneCountInString(text); n > maxLength {
		return "", fmt.Sprintf("That message is too long: %d characters, the limit is %d.", n, maxLength)
	}
	for _, r := range text {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return "", "Messages can't contain control characters."
		}
	}
	if strings.IndexFunc(text, func(r rune) bool { return !hidden(r) && !unicode.IsSpace(r) }) < 0 {
		return "", "That message shows as nothing: it only has invisible characters. Write something to send."
	}
	return text, ""
}
