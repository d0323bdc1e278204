package mail_test

import (
	"bytes"
	"context"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/mail"
	"github.com/chatzilla/chatzilla/mail/mailtest"
)

const from = "Chatzilla <chat@example.com>"

// signIn is a mail like the one the join handler sends. The link is longer
// than a quoted-printable line and holds "=", so it only survives if the
// transfer encoding is undone correctly on the way.
var signIn = mail.Message{
	To:      "alice@example.com",
	Subject: "Sign in to Chatzilla",
	Body: "Open this link to sign in as alice@example.com:\n\n" +
		"http://localhost:5000/signin?token=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy&next=%2F\n\n" +
		"It works once, for 15 minutes.\n",
}

const link = "http://localhost:5000/signin?token=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy&next=%2F"

func send(t *testing.T, smtpURL string, opts ...mail.Option) error {
	t.Helper()
	_, log := newLogs()
	s, err := mail.Open(smtpURL, from, log, opts...)
	if err != nil {
		t.Fatalf("Open(%q): %v", smtpURL, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.Send(ctx, signIn)
}

// checkArrived fails the test unless signIn arrived whole, over TLS or not
// as wantTLS says.
func checkArrived(t *testing.T, got mailtest.Received, wantTLS bool) {
	t.Helper()
	if got.From != "chat@example.com" {
		t.Errorf("envelope sender %q, want chat@example.com", got.From)
	}
	if len(got.To) != 1 || got.To[0] != signIn.To {
		t.Errorf("envelope recipients %q, want [%s]", got.To, signIn.To)
	}
	if got.Subject != signIn.Subject {
		t.Errorf("subject %q, want %q", got.Subject, signIn.Subject)
	}
	if !strings.Contains(got.Body, link) {
		t.Errorf("body does not hold the link %s:\n%s", link, got.Body)
	}
	header, err := netmail.ReadMessage(bytes.NewReader(got.Raw))
	if err != nil {
		t.Fatalf("reading the message: %v", err)
	}
	if f, err := header.Header.AddressList("From"); err != nil || len(f) != 1 || f[0].Name != "Chatzilla" || f[0].Address != "chat@example.com" {
		t.Errorf("From header %q, want Chatzilla <chat@example.com>", header.Header.Get("From"))
	}
	if id := header.Header.Get("Message-Id"); !strings.HasSuffix(id, "@example.com>") {
		t.Errorf("Message-ID %q is not in the sender's domain", id)
	}
	if got.TLS != wantTLS {
		t.Errorf("over TLS: %v, want %v", got.TLS, wantTLS)
	}
}

func TestSendPlainSMTP(t *testing.T) {
	server := mailtest.NewServer(t)
	if err := send(t, server.URL()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	checkArrived(t, server.WaitFor(t, signIn.To, 5*time.Second), false)
}

func TestSendUsesSTARTTLSWhenOffered(t *testing.T) {
	server := mailtest.NewServer(t, mailtest.WithStartTLS())
	if err := send(t, server.URL(), mail.WithTLSConfig(server.ClientTLSConfig())); err != nil {
		t.Fatalf("Send: %v", err)
	}
	checkArrived(t, server.WaitFor(t, signIn.To, 5*time.Second), true)
}

// The certificate is checked: STARTTLS to a server the client does not
// trust fails rather than sending the mail in clear or to an impostor.
func TestSendRefusesAnUntrustedCertificate(t *testing.T) {
	server := mailtest.NewServer(t, mailtest.WithStartTLS())
	err := send(t, server.URL())
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Send to a self-signed server without trusting it: %v, want a certificate error", err)
	}
	if n := len(server.Messages()); n != 0 {
		t.Errorf("server received %d messages", n)
	}
}

func TestSendImplicitTLS(t *testing.T) {
	server := mailtest.NewServer(t, mailtest.WithImplicitTLS(), mailtest.WithAuth("chatzilla", "s3cret"))
	if !strings.HasPrefix(server.URL(), "smtps://") {
		t.Fatalf("URL %q, want smtps://", server.URL())
	}
	if err := send(t, server.URL(), mail.WithTLSConfig(server.ClientTLSConfig())); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := server.WaitFor(t, signIn.To, 5*time.Second)
	checkArrived(t, got, true)
	if got.User != "chatzilla" {
		t.Errorf("authenticated as %q, want chatzilla", got.User)
	}
}

func TestSendAuthenticates(t *testing.T) {
	server := mailtest.NewServer(t, mailtest.WithStartTLS(), mailtest.WithAuth("chatzilla", "s3cret"))
	trust := mail.WithTLSConfig(server.ClientTLSConfig())

	t.Run("right password", func(t *testing.T) {
		if err := send(t, server.URL(), trust); err != nil {
			t.Fatalf("Send: %v", err)
		}
		got := server.WaitFor(t, signIn.To, 5*time.Second)
		checkArrived(t, got, true)
		if got.User != "chatzilla" {
			t.Errorf("authenticated as %q, want chatzilla", got.User)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		wrong := strings.Replace(server.URL(), ":s3cret@", ":wr0ng-pass@", 1)
		err := send(t, wrong, trust)
		if err == nil {
			t.Fatal("Send with a wrong password succeeded")
		}
		if !strings.Contains(err.Error(), "AUTH failed") || !strings.Contains(err.Error(), "535") {
			t.Errorf("error %q does not say that authentication failed", err)
		}
		if strings.Contains(err.Error(), "wr0ng-pass") {
			t.Errorf("error %q quotes the password", err)
		}
	})
	t.Run("no user", func(t *testing.T) {
		anonymous := strings.Replace(server.URL(), "chatzilla:s3cret@", "", 1)
		if err := send(t, anonymous, trust); err == nil {
			t.Fatal("Send without AUTH to a server that requires it succeeded")
		}
	})
}

// A password never crosses the network in clear: to a server that offers
// AUTH but no TLS, the client does not authenticate, so the mail fails.
func TestSendKeepsThePasswordOffAPlainConnection(t *testing.T) {
	server := mailtest.NewServer(t, mailtest.WithAuth("chatzilla", "s3cret"))
	if err := send(t, server.URL()); err == nil {
		t.Fatal("Send authenticated over a plain connection")
	}
	if n := len(server.Messages()); n != 0 {
		t.Errorf("server received %d messages", n)
	}
}

func TestSendToTheLog(t *testing.T) {
	logs, log := newLogs()
	s, err := mail.Open("log:", "", log)
	if err != nil {
		t.Fatalf("Open(log:): %v", err)
	}
	if err := s.Send(context.Background(), signIn); err != nil {
		t.Fatalf("Send: %v", err)
	}
	records := logs.all()
	if len(records) != 1 {
		t.Fatalf("want one log record, got %q", records)
	}
	for _, want := range []string{"INFO ", "to=" + signIn.To, signIn.Subject, link} {
		if !strings.Contains(records[0], want) {
			t.Errorf("log record %q lacks %q", records[0], want)
		}
	}
}
