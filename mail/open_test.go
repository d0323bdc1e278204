package mail

import (
	"strings"
	"testing"
)

func TestParseSMTPURL(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want relay
	}{
		{"smtp://mail.example.com", relay{scheme: "smtp", host: "mail.example.com", port: 587}},
		{"smtps://mail.example.com", relay{scheme: "smtps", host: "mail.example.com", port: 465}},
		{"smtp://apikey:s3cret@mail.example.com:2525", relay{scheme: "smtp", host: "mail.example.com", port: 2525, user: "apikey", pass: "s3cret"}},
		// Special characters in credentials come percent-encoded.
		{"smtps://me%40example.com:p%40ss%3Aw%2Frd@127.0.0.1:1465/", relay{scheme: "smtps", host: "127.0.0.1", port: 1465, user: "me@example.com", pass: "p@ss:w/rd"}},
		{"SMTP://mail.example.com", relay{scheme: "smtp", host: "mail.example.com", port: 587}}, // schemes are case-insensitive
		{"smtp://[::1]:25", relay{scheme: "smtp", host: "::1", port: 25}},
		{"log:", relay{scheme: "log"}},
		{"log://", relay{scheme: "log"}},
	} {
		got, err := parseSMTPURL(c.raw)
		if err != nil || got != c.want {
			t.Errorf("parseSMTPURL(%q) = %+v, %v; want %+v", c.raw, got, err, c.want)
		}
	}
}

// Each bad SMTP_URL is refused at start with an error that names the
// variable, says what is wrong and never quotes the password.
func TestParseSMTPURLRefuses(t *testing.T) {
	const password = "s3cr"
	for _, c := range []struct{ raw, wantErr string }{
		{"", "empty"},
		{"   ", "empty"},
		{"mail.example.com", "no scheme"},
		{"http://mail.example.com", `scheme "http"`},
		{"smtp://", "no host"},
		{"smtp://:587", "no host"},
		{"smtp:mail.example.com", "no host"},
		{"smtp://u:s3cr@:587", "no host"},
		{"smtp://mail.example.com:0", `port "0"`},
		{"smtp://mail.example.com:65536", `port "65536"`},
		{"smtp://u:s3cr@mail.example.com:smtp", `invalid port ":smtp"`},
		{"smtp://apikey@mail.example.com", "no password"},
		{"smtp://:s3cr@mail.example.com", "no user name"},
		{"smtp://u:s3cr%zz@mail.example.com", "malformed user name or password"},
		{"smtp://u:s3cr et@mail.example.com", "malformed user name or password"},
		{"smtp://u:s3cr@mail.example.com/relay", "after the host"},
		{"smtp://u:s3cr@mail.example.com?tls=1", "after the host"},
		{"log:stderr", "nothing after the colon"},
	} {
		_, err := parseSMTPURL(c.raw)
		if err == nil {
			t.Errorf("parseSMTPURL(%q) succeeded; want an error saying %q", c.raw, c.wantErr)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "SMTP_URL ") || !strings.Contains(msg, c.wantErr) {
			t.Errorf("parseSMTPURL(%q) = %q; want SMTP_URL ... %q", c.raw, msg, c.wantErr)
		}
		if strings.Contains(msg, password) {
			t.Errorf("parseSMTPURL(%q) = %q quotes the password", c.raw, msg)
		}
	}
}

func TestOpenChecksMailFrom(t *testing.T) {
	for _, c := range []struct {
		smtpURL, from string
		ok            bool
	}{
		{"smtp://mail.example.com", "chat@example.com", true},
		{"smtp://mail.example.com", "Chatzilla <chat@example.com>", true},
		{"log:", "", true}, // a developer need not make up a sender
		{"smtp://mail.example.com", "", false},
		{"smtp://mail.example.com", "Chatzilla", false},
		{"smtp://mail.example.com", "chat@example.com, other@example.com", false},
		{"smtp://mail.example.com", "Chatzilla <chat@example.com", false},
		{"log:", "not an address", false},
	} {
		_, err := Open(c.smtpURL, c.from, nil)
		switch {
		case c.ok && err != nil:
			t.Errorf("Open(%q, %q): %v", c.smtpURL, c.from, err)
		case !c.ok && err == nil:
			t.Errorf("Open(%q, %q) succeeded; want an error", c.smtpURL, c.from)
		case !c.ok && !strings.HasPrefix(err.Error(), "MAIL_FROM "):
			t.Errorf("Open(%q, %q) = %q; want it to name MAIL_FROM", c.smtpURL, c.from, err)
		}
	}
}
