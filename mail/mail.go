// Package mail sends Chatzilla's few mails (sign-in links) through an SMTP
// relay named by SMTP_URL, or to the log for local development.
//
// Invariants:
//   - A mail body holds a sign-in link, which is as good as a password for 15
//     minutes: nothing here logs a body except the log: sender, whose whole
//     point is to show it to the developer running the server.
//   - Logs name a recipient only through Mask, so a log reader learns that a
//     mail went to a…@example.com, not who asked to sign in. Errors from the
//     relay can quote the address; the Outbox masks it in them too.
//   - The SMTP password never appears in an error or a log line.
//   - Send is safe to call from several goroutines: each call dials its own
//     connection, so one slow relay answer holds up only its own mail.
package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
)

// Message is one plain-text mail.
type Message struct {
	To      string // one address, without a display name
	Subject string
	Body    string
}

// Sender delivers one message now, or fails. The error of a failed delivery
// may quote the recipient's address but never the body.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// The ports an SMTP_URL without one gets: 587 is the submission port, where
// relays offer STARTTLS and AUTH; 465 is submission over implicit TLS
// (RFC 8314). Port 25 is for relays talking to each other, and often blocked.
const (
	defaultSubmissionPort = 587
	defaultImplicitTLS    = 465
)

// Option changes how Open connects; tests use it to trust their server.
type Option func(*options)

type options struct {
	tlsConfig *tls.Config
}

// WithTLSConfig makes the SMTP sender verify the relay with cfg instead of
// the system's roots, for a test server's self-signed certificate. Its
// ServerName defaults to the host in SMTP_URL.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(o *options) { o.tlsConfig = cfg }
}

// Open returns the Sender for SMTP_URL (a nil log means slog.Default()):
//
//	smtp://user:pass@host:587  STARTTLS when the relay offers it; AUTH when a user is given
//	smtps://user:pass@host:465 implicit TLS
//	log:                       the whole mail, link included, goes to log at INFO
//
// The user name and password must be percent-encoded where they hold
// characters special in URLs ("@", ":", "/", "%"). from is MAIL_FROM, an
// address with or without a name (`Chatzilla <chat@example.com>`); it may be
// empty only for log:. Errors name the variable at fault and never quote the
// password.
func Open(smtpURL, from string, log *slog.Logger, opts ...Option) (Sender, error) {
	if log == nil {
		log = slog.Default()
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	r, err := parseSMTPURL(smtpURL)
	if err != nil {
		return nil, err
	}
	if from == "" && r.scheme != "log" {
		return nil, errors.New("MAIL_FROM is required when SMTP_URL is set (for example `Chatzilla <chat@example.com>`)")
	}
	if from != "" {
		if _, err := netmail.ParseAddress(from); err != nil {
			return nil, fmt.Errorf("MAIL_FROM %q is not one mail address (want `chat@example.com` or `Chatzilla <chat@example.com>`): %v", from, err)
		}
	}
	if r.scheme == "log" {
		return &logSender{from: from, log: log}, nil
	}
	return newSMTPSender(r, from, o)
}

// relay is a parsed SMTP_URL.
type relay struct {
	scheme     string // "smtp", "smtps" or "log"
	host       string
	port       int
	user, pass string
}

// parseSMTPURL checks SMTP_URL strictly, so a typo stops the server at start
// rather than losing every sign-in mail later.
func parseSMTPURL(raw string) (relay, error) {
	if strings.TrimSpace(raw) == "" {
		return relay{}, errors.New("SMTP_URL is empty (want smtp://user:pass@host:587, smtps://user:pass@host:465 or log:)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return relay{}, describeParseError(raw)
	}
	switch u.Scheme {
	case "log":
		if u.Opaque != "" || u.Host != "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return relay{}, errors.New("SMTP_URL log: takes nothing after the colon")
		}
		return relay{scheme: "log"}, nil
	case "smtp", "smtps":
	case "":
		return relay{}, errors.New("SMTP_URL has no scheme (want smtp://, smtps:// or log:)")
	default:
		return relay{}, fmt.Errorf("SMTP_URL has scheme %q (want smtp, smtps or log)", u.Scheme)
	}
	r := relay{scheme: u.Scheme, host: u.Hostname()}
	if u.Opaque != "" || r.host == "" {
		return relay{}, fmt.Errorf("SMTP_URL has no host (want %s://host:port)", u.Scheme)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return relay{}, fmt.Errorf("SMTP_URL has something after the host and port (want %s://user:pass@host:port and nothing more)", u.Scheme)
	}
	r.port = defaultSubmissionPort
	if u.Scheme == "smtps" {
		r.port = defaultImplicitTLS
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return relay{}, fmt.Errorf("SMTP_URL has port %q (want 1 to 65535)", p)
		}
		r.port = n
	}
	if u.User != nil {
		r.user = u.User.Username()
		r.pass, _ = u.User.Password()
		if r.user == "" {
			return relay{}, errors.New("SMTP_URL has a password but no user name")
		}
		if r.pass == "" {
			return relay{}, errors.New("SMTP_URL has a user name but no password")
		}
	}
	return r, nil
}

// describeParseError says what url.Parse disliked without quoting the
// password, which url.Error's message would: it parses the URL again with
// the user name and password cut out, so a fault that remains is elsewhere
// and safe to show, and a fault that goes away was in the credentials.
func describeParseError(raw string) error {
	redacted := raw
	if scheme, rest, ok := strings.Cut(raw, "://"); ok {
		authority, path, hasPath := strings.Cut(rest, "/")
		if at := strings.LastIndex(authority, "@"); at >= 0 {
			authority = authority[at+1:]
		}
		redacted = scheme + "://" + authority
		if hasPath {
			redacted += "/" + path
		}
	}
	if _, err := url.Parse(redacted); err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("SMTP_URL is not a valid URL: %v", err)
	}
	return errors.New("SMTP_URL has a malformed user name or password (percent-encode characters such as @ : / % in them)")
}
