package mail_test

import (
	"testing"

	"github.com/chatzilla/chatzilla/mail"
)

func TestMask(t *testing.T) {
	for _, c := range []struct{ address, want string }{
		{"alice@example.com", "a…@example.com"},
		{"Alice.Smith+chat@mail.example.co.uk", "A…@mail.example.co.uk"},
		// One character or none: the ellipsis stays, so the length is hidden.
		{"a@example.com", "a…@example.com"},
		{"@example.com", "…@example.com"},
		// Not an address: nearly all of it is hidden all the same.
		{"alice", "a…"},
		{"", "…"},
		// A quoted local part may hold "@"; the domain follows the last one.
		{`"al@ice"@example.com`, `"…@example.com`},
		// Characters, not bytes: a multi-byte first letter is kept whole ...
		{"élodie@exemple.fr", "é…@exemple.fr"},
		{"用户@例子.广告", "用…@例子.广告"},
		{"😀fan@example.com", "😀…@example.com"},
		// ... with its combining accent.
		{"e\u0301lodie@exemple.fr", "e\u0301…@exemple.fr"},
	} {
		if got := mail.Mask(c.address); got != c.want {
			t.Errorf("Mask(%q) = %q, want %q", c.address, got, c.want)
		}
	}
}
