package handlers

import (
	"strings"
	"testing"
)

// TestAddressesCannotPassAsOthers covers the spoofing found in review: each
// address looks like another on screen, or hides part of itself.
func TestAddressesCannotPassAsOthers(t *testing.T) {
	spoofs := map[string]string{
		"right-to-left override":       "\u202emoc.elpmaxe@nimda",
		"override inside":              "admin@exa\u202emoc.elpm",
		"left-to-right mark":           "admin\u200e@example.com",
		"right-to-left isolate":        "\u2067admin@example.com",
		"zero-width space":             "ad\u200bmin@example.com",
		"zero-width joiner":            "admin\u200d@example.com",
		"word joiner":                  "admin@example\u2060.com",
		"byte order mark":              "\ufeffadmin@example.com",
		"soft hyphen":                  "ad\u00admin@example.com",
		"C1 control":                   "admin\u0085@example.com",
		"C0 control":                   "admin\x07@example.com",
		"tag characters":               "admin\U000E0041@example.com",
		"Hangul filler":                "admin\u3164@example.com",
		"variation selector":           "admin\ufe0f@example.com",
		"braille blank":                "admin\u2800@example.com",
		"no-break space":               "admin\u00a0@example.com",
		"Cyrillic a among Latin":       "\u0430dmin@example.com",
		"Greek omicron among Latin":    "b\u03bfb@example.com",
		"full-width letters":           "\uff41dmin@example.com",
		"mathematical bold letters":    "\U0001d41a\U0001d41d\U0001d426\U0001d422\U0001d427@example.com",
		"invalid domain after mapping": "admin@exa mple.com",
	}
	for name, email := range spoofs {
		if got, reason := validateEmail(email); reason == "" {
			t.Errorf("%s: %q accepted as %q", name, email, got)
		}
	}
}

func TestAddressesAreNormalised(t *testing.T) {
	tests := []struct{ typed, want string }{
		{"bob@example.com", "bob@example.com"},
		{"  bob@Example.COM ", "bob@example.com"},
		{"o'brien@example.com", "o'brien@example.com"},
		// Decomposed é (e + combining acute) and composed é are one address.
		{"rene\u0301@example.com", "ren\u00e9@example.com"},
		{"ren\u00e9@example.com", "ren\u00e9@example.com"},
		// A domain in another script is shown as the xn-- name it is, so a
		// Cyrillic look-alike of example.com cannot pass for it.
		{"bob@\u0435xample.com", "bob@xn--xample-2of.com"},
		{"bob@b\u00fccher.example", "bob@xn--bcher-kva.example"},
		{"bob@\uff45xample.com", "bob@example.com"}, // full-width letters map to ASCII
		// Right-to-left scripts work, in one script at a time.
		{"\u05d3\u05e0\u05d9@example.co.il", "\u05d3\u05e0\u05d9@example.co.il"},
		{"\u0639\u0644\u064a@example.com", "\u0639\u0644\u064a@example.com"},
	}
	for _, tt := range tests {
		got, reason := validateEmail(tt.typed)
		if reason != "" || got != tt.want {
			t.Errorf("validateEmail(%q) = %q, %q; want %q", tt.typed, got, reason, tt.want)
		}
	}
}

func TestInvisibleMessagesAreRefused(t *testing.T) {
	for _, text := range []string{"\u200b", "\u200b\u200b\u200b", "\u202e", " \u2060 \ufeff ", "\u3164", "\u2800\n\u200d"} {
		if got, reason := validateMessage(text, 2000); reason == "" {
			t.Errorf("%q accepted as %q", text, got)
		}
	}
	// Text with format characters in it stays as typed: they are isolated
	// when shown.
	for _, text := range []string{"\u0645\u0631\u062d\u0628\u0627", "\u05e9\u05dc\u05d5\u05dd world", "\u202egnirts", "\U0001F469\u200d\U0001F4BB", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"} {
		if got, reason := validateMessage(text, 2000); reason != "" || got != text {
			t.Errorf("%q: got %q, %q", text, got, reason)
		}
	}
	if !strings.Contains(func() string { _, r := validateMessage("\u200b", 10); return r }(), "invisible") {
		t.Error("the refusal does not say why")
	}
}
