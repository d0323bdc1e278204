package mailtest

import (
	"io"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// session is one SMTP conversation, from EHLO (or STARTTLS) to QUIT.
type session struct {
	server *Server
	conn   *smtp.Conn
	user   string // set once AUTH succeeded
	from   string
	to     []string
}

func (ss *session) AuthMechanisms() []string {
	if ss.server.user == "" {
		return nil // AUTH is then not advertised at all
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if ss.server.user == "" || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != ss.server.user || pass != ss.server.pass {
			return smtp.ErrAuthFailed
		}
		ss.user = user
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.server.user != "" && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := ss.server.refusal(); err != nil {
		return err
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := Received{From: ss.from, To: ss.to, User: ss.user, Raw: raw}
	_, m.TLS = ss.conn.TLSConnectionState()
	// A message mailtest cannot decode is still accepted, as a relay would:
	// refusing it would show up as a delivery failure in the code under
	// test, far from the cause. The test sees Raw and the reason in its log.
	if m.Subject, m.Body, err = decode(raw); err != nil {
		ss.server.logger.Printf("cannot decode the message to %v: %v", ss.to, err)
	}
	ss.server.accept(m)
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }
