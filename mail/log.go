package mail

import (
	"context"
	"log/slog"
)

// logSender is SMTP_URL=log:, for a developer without a relay: the mail,
// sign-in link and all, goes to the server's log, from where it can be
// opened. It logs the full address on purpose; it is never for production.
type logSender struct {
	from string
	log  *slog.Logger
}

func (s *logSender) Send(ctx context.Context, m Message) error {
	s.log.InfoContext(ctx, "mail written to the log (SMTP_URL=log:), not sent",
		"from", s.from, "to", m.To, "subject", m.Subject, "body", m.Body)
	return nil
}
