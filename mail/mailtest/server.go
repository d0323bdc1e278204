// Package mailtest runs a real SMTP server in the test's process, on
// 127.0.0.1 over TCP, so that tests of code that mails can read what
// arrived: a link in a sign-in mail, say. It is built on emersion/go-smtp and
// speaks STARTTLS, implicit TLS and AUTH PLAIN the way a relay does.
//
// The server keeps every message it accepts in memory; it is closed by the
// test's Cleanup.
package mailtest

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Received is one message as the server got it.
type Received struct {
	From    string   // the envelope sender (MAIL FROM)
	To      []string // the envelope recipients (RCPT TO)
	Subject string   // decoded from RFC 2047 words
	Body    string   // the text/plain body, transfer encoding undone
	TLS     bool     // the message came over TLS (STARTTLS or implicit)
	User    string   // the name the client authenticated as, if it did
	Raw     []byte   // the message as sent, headers and all
}

// Option configures a Server.
type Option func(*Server)

// WithAuth makes the server offer AUTH PLAIN and refuse mail from a client
// that has not authenticated as user with pass. The server offers AUTH even
// without TLS, so a test can check that the client does not send a password
// in clear.
func WithAuth(user, pass string) Option {
	return func(s *Server) { s.user, s.pass = user, pass }
}

// WithStartTLS makes the server offer STARTTLS with a self-signed
// certificate; ClientTLSConfig trusts it.
func WithStartTLS() Option {
	return func(s *Server) { s.startTLS = true }
}

// WithImplicitTLS makes the server speak TLS from the first byte, as on port
// 465; URL then starts with smtps://.
func WithImplicitTLS() Option {
	return func(s *Server) { s.implicitTLS = true }
}

// WithFailures makes the server refuse the next n recipients with 451 4.7.1
// (try again later, as a greylisting relay does).
func WithFailures(n int) Option {
	return func(s *Server) { s.failures = n }
}

// WithRejections makes the server refuse the next n recipients with 550
// 5.1.1 (no such user), a refusal that retrying will not change.
func WithRejections(n int) Option {
	return func(s *Server) { s.rejections = n }
}

// Server is an SMTP server listening on 127.0.0.1.
type Server struct {
	user, pass            string
	startTLS, implicitTLS bool
	listener              net.Listener
	cert                  *x509.Certificate
	logger                *testLogger

	mu         sync.Mutex
	failures   int
	rejections int
	messages   []Received
	arrived    chan struct{} // closed and replaced when a message arrives
}

// NewServer starts a server; t's Cleanup closes it.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{arrived: make(chan struct{})}
	for _, opt := range opts {
		opt(s)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = "mailtest.localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.AllowInsecureAuth = true
	s.logger = &testLogger{t: t}
	srv.ErrorLog = s.logger
	if s.startTLS || s.implicitTLS {
		cert, leaf, err := selfSigned()
		if err != nil {
			t.Fatalf("mailtest: certificate: %v", err)
		}
		s.cert = leaf
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if s.implicitTLS {
			l = tls.NewListener(l, cfg)
		} else {
			srv.TLSConfig = cfg // go-smtp offers STARTTLS when it has a config
		}
	}
	s.listener = l
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(l) // returns when Close closes the listener
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-served
		// Close does not wait for connections to end; their goroutines
		// must not log once the test is over.
		s.logger.stop()
	})
	return s
}

// URL is an SMTP_URL for this server, with the user name and password when
// WithAuth was given.
func (s *Server) URL() string {
	u := url.URL{Scheme: "smtp", Host: s.listener.Addr().String()}
	if s.implicitTLS {
		u.Scheme = "smtps"
	}
	if s.user != "" {
		u.User = url.UserPassword(s.user, s.pass)
	}
	return u.String()
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// ClientTLSConfig trusts the server's certificate (for 127.0.0.1 and
// localhost). It is nil when the server has no TLS.
func (s *Server) ClientTLSConfig() *tls.Config {
	if s.cert == nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AddCert(s.cert)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// Messages returns every message received so far, oldest first.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.messages...)
}

// WaitFor returns the first message to the address to, waiting up to
// timeout for it; it fails the test if none comes. Call it from the test's
// goroutine.
func (s *Server) WaitFor(t testing.TB, to string, timeout time.Duration) Received {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		arrived := s.arrived
		for _, m := range s.messages {
			for _, rcpt := range m.To {
				if strings.EqualFold(rcpt, to) {
					s.mu.Unlock()
					return m
				}
			}
		}
		s.mu.Unlock()
		select {
		case <-arrived:
		case <-deadline.C:
			t.Fatalf("mailtest: no mail to %s within %v (%d other messages received)", to, timeout, len(s.Messages()))
			return Received{}
		}
	}
}

// newSession is called on EHLO, and again after STARTTLS.
func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{server: s, conn: c}, nil
}

// accept records a message and wakes WaitFor.
func (s *Server) accept(m Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

// refusal returns the error for the next recipient, if one is due.
func (s *Server) refusal() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.failures > 0:
		s.failures--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Try again later"}
	case s.rejections > 0:
		s.rejections--
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	}
	return nil
}

// testLogger sends go-smtp's complaints to the test's log until the test
// ends: testing panics on a Log after that.
type testLogger struct {
	t       testing.TB
	mu      sync.Mutex
	stopped bool
}

func (l *testLogger) Printf(format string, v ...any) {
	l.Println(fmt.Sprintf(format, v...))
}

func (l *testLogger) Println(v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		l.t.Log(append([]any{"mailtest:"}, v...)...)
	}
}

func (l *testLogger) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
}
