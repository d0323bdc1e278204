package mailtest

import (
	"strings"
	"testing"
)

// Each transfer encoding must come back as the text that was sent, or a
// test searching a body for a sign-in link would not find it.
func TestDecode(t *testing.T) {
	const link = "https://chat.example.com/signin?token=abc=def"
	for _, c := range []struct {
		name, raw  string
		subject    string
		wantInBody string
	}{
		{"7bit", "Subject: Sign in\r\n\r\nOpen " + link + "\r\n", "Sign in", "Open " + link + "\n"},
		{"quoted-printable with a soft line break",
			"Subject: Sign in\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
				"Open https://chat.example.com/signin?tok=\r\nen=3Dabc=3Ddef, caf=C3=A9\r\n",
			"Sign in", "Open " + link + ", café\n"},
		{"base64 over several lines",
			"Subject: Sign in\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
				"T3BlbiBodHRwczovL2NoYXQuZXhhbXBsZS5jb20vc2lnbmluP3Rva2Vu\r\nPWFiYz1kZWY=\r\n",
			"Sign in", "Open " + link},
		{"encoded subject", "Subject: =?UTF-8?q?Sign_in_to_Chatzill=C3=A0?=\r\n\r\nhi\r\n", "Sign in to Chatzillà", "hi"},
		{"multipart: the text/plain part",
			"Subject: Sign in\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b1\r\n\r\n" +
				"--b1\r\nContent-Type: text/html\r\n\r\n<a href=x>html</a>\r\n" +
				"--b1\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nOpen " +
				strings.ReplaceAll(link, "=", "=3D") + "\r\n--b1--\r\n",
			"Sign in", "Open " + link},
	} {
		t.Run(c.name, func(t *testing.T) {
			subject, body, err := decode([]byte(c.raw))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if subject != c.subject {
				t.Errorf("subject %q, want %q", subject, c.subject)
			}
			if !strings.Contains(body, c.wantInBody) {
				t.Errorf("body %q does not hold %q", body, c.wantInBody)
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	for name, raw := range map[string]string{
		"html only":        "Content-Type: text/html\r\n\r\n<p>hi</p>\r\n",
		"unknown encoding": "Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n",
		"no headers":       "just text",
	} {
		if _, _, err := decode([]byte(raw)); err == nil {
			t.Errorf("%s: decode succeeded", name)
		}
	}
}
