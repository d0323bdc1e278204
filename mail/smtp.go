package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net"
	netmail "net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// smtpTimeout bounds one delivery when the caller's context has no deadline
// of its own: go-mail puts it on the connection, so a relay that stops
// answering cannot hold a connection open for ever.
const smtpTimeout = 30 * time.Second

// smtpSender delivers through an SMTP relay with go-mail.
type smtpSender struct {
	relay  relay
	from   string
	domain string // of from
	tls    *tls.Config
}

func newSMTPSender(r relay, from string, o options) (*smtpSender, error) {
	// go-mail's own default, which STARTTLS and implicit TLS share here.
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.tlsConfig != nil {
		cfg = o.tlsConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = r.host
	}
	s := &smtpSender{relay: r, from: from, tls: cfg}
	if a, err := netmail.ParseAddress(from); err == nil {
		s.domain = a.Address[strings.LastIndex(a.Address, "@")+1:]
	}
	// Build one client now, so that a setting go-mail refuses stops the
	// server at start rather than failing every mail.
	if _, err := s.client(smtpTimeout, nil); err != nil {
		return nil, fmt.Errorf("SMTP_URL: %v", err)
	}
	return s, nil
}

// client makes a go-mail client for one delivery. A client per delivery
// costs nothing (it dials only when sending) and lets each delivery carry
// its own timeout and dialer.
func (s *smtpSender) client(timeout time.Duration, dial gomail.DialContextFunc) (*gomail.Client, error) {
	opts := []gomail.Option{
		gomail.WithPort(s.relay.port),
		gomail.WithTimeout(timeout),
		gomail.WithTLSConfig(s.tls),
		// Opportunistic: a relay on a private network may offer no TLS at
		// all. A password still never crosses in clear: go-mail's auto
		// discovery does not pick PLAIN or LOGIN on an unencrypted
		// connection. For smtps the dialer has done TLS already, and no
		// relay offers STARTTLS inside TLS.
		gomail.WithTLSPolicy(gomail.TLSOpportunistic),
	}
	if dial != nil {
		opts = append(opts, gomail.WithDialContextFunc(dial))
	}
	if s.relay.user != "" {
		opts = append(opts,
			gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.relay.user),
			gomail.WithPassword(s.relay.pass),
		)
	}
	return gomail.NewClient(s.relay.host, opts...)
}

// dialer connects to the relay, with TLS from the first byte for smtps, and
// closes the connection when ctx ends. go-mail watches its context only
// while dialling and then relies on the connection's deadline; closing the
// connection is what lets a caller who gives up (a server shutting down)
// stop a delivery at once. *stop is set to release that watch.
func (s *smtpSender) dialer(ctx context.Context, stop *func() bool) gomail.DialContextFunc {
	return func(dialCtx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(dialCtx, network, addr)
		if err != nil {
			return nil, err
		}
		if s.relay.scheme == "smtps" {
			// go-mail sees a *tls.Conn and counts the connection as
			// encrypted, which lets AUTH PLAIN through.
			tc := tls.Client(conn, s.tls)
			if err := tc.HandshakeContext(dialCtx); err != nil {
				conn.Close()
				return nil, err
			}
			conn = tc
		}
		*stop = context.AfterFunc(ctx, func() { conn.Close() })
		return conn, nil
	}
}

func (s *smtpSender) Send(ctx context.Context, m Message) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return fmt.Errorf("mail: sender %q: %w", s.from, err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("mail: recipient %s: %w", Mask(m.To), err)
	}
	msg.Subject(m.Subject)
	msg.SetBodyString(gomail.TypeTextPlain, m.Body)
	msg.SetDate()
	// A Message-ID in the sender's own domain, not this machine's name
	// (a dyno's is random), as spam filters expect.
	msg.SetMessageIDWithValue(rand.Text() + "@" + s.domain)

	timeout := smtpTimeout
	if deadline, ok := ctx.Deadline(); ok {
		timeout = time.Until(deadline)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("mail: %w", context.Cause(ctx))
	}
	if timeout <= 0 {
		return fmt.Errorf("mail: %w", context.DeadlineExceeded)
	}
	stop := func() bool { return false }
	c, err := s.client(timeout, s.dialer(ctx, &stop))
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	err = c.DialAndSendWithContext(ctx, msg)
	stop()
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		// The error is then "use of closed network connection"; the
		// context says why.
		return fmt.Errorf("mail: %w (%v)", context.Cause(ctx), err)
	default:
		return fmt.Errorf("mail: %w", err)
	}
}
