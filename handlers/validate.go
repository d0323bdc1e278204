package handlers

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxEmailBytes is the longest address SMTP allows (RFC 5321's path limit).
const maxEmailBytes = 254

// validateEmail returns the address to join with, or a sentence saying what
// is wrong with it.
func validateEmail(raw string) (string, string) {
	email := strings.TrimSpace(raw)
	switch {
	case email == "":
		return "", "Type your email address to join."
	case !utf8.ValidString(email):
		return "", "That email address contains characters that are not text."
	case len(email) > maxEmailBytes:
		return "", fmt.Sprintf("That email address is too long: at most %d characters.", maxEmailBytes)
	// Apostrophes stay allowed: o'brien@example.com is a real address.
	case strings.ContainsAny(email, `<>"&`):
		return "", `An email address can't contain <, >, " or &.`
	}
	addr, err := mail.ParseAddress(email)
	// Only a bare address like bob@example.com: no display name, no
	// comments, nothing that parses to something other than what was typed.
	if err != nil || addr.Name != "" || addr.Address != email || !strings.Contains(email, "@") {
		return "", "That doesn't look like an email address. Try something like bob@example.com."
	}
	return email, ""
}

// validateMessage returns the text to store, or a sentence saying what is
// wrong with it. Line breaks are normalised to \n and surrounding space is
// trimmed; other control characters are refused, since they only ever hide
// or disguise text.
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
	return text, ""
}
