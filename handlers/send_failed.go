package handlers

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/chatzilla/chatzilla/views"
)

// isSend reports whether the request is a message sent from the composer,
// whose failures must give the person their text back.
func isSend(c echo.Context) bool {
	p := c.Request().URL.Path
	return c.Request().Method == http.MethodPost && (p == "/messages" || strings.HasPrefix(p, "/rooms/") && strings.HasSuffix(p, "/messages"))
}

// renderSendFailed answers a send that failed, whatever failed (validation,
// flood control, the session, the store, a panic, the body limit, the
// cross-origin check), with the composer as it was sent and the reason next
// to it: a fresh composer for htmx, which swaps it in for the old one, or
// the chat page with the composer filled for a plain form.
func (s *server) renderSendFailed(c echo.Context, p views.Problem) error {
	// Whatever failed on the server's side (the store, while checking the
	// session too; a bug), what the person needs to know is that the
	// message was not sent.
	switch {
	case p.Status == http.StatusServiceUnavailable:
		p.Message = notSaved
	case p.Status >= 500:
		p.Message = "Your message was not sent: something went wrong on our side. Try again."
	}
	return s.renderRefused(c, p.Status, s.sentComposer(c, p.Message))
}

// renderRefused answers a send with composer, which says why it was refused.
func (s *server) renderRefused(c echo.Context, status int, composer views.Composer) error {
	// The composer posts where this one did: general's, or a room's (also
	// when what refused it ran before the room was looked up).
	composer.Action = c.Request().URL.EscapedPath()
	if isHTMX(c) {
		return render(c, status, views.ComposerForm(composer))
	}
	if me, joined, err := s.member(c); err == nil && joined {
		if _, err := s.roomOf(c, me); err == nil && s.renderChat(c, status, me.Email, composer) == nil {
			return nil
		}
		// The page needs the history, which fails when the store does:
		// the composer alone still lets the person send again.
	}
	p := views.Problem{Status: status, Title: http.StatusText(status), Message: composer.Error}
	return render(c, status, views.SendFailedPage(s.page, p, composer))
}

// notSaved is why a message was not sent when the store failed.
const notSaved = "Your message was not sent: Chatzilla can't save messages right now. Try again in a moment."

// sentComposer is the composer as the person sent it, with reason shown. It
// reads the form only if the handler already did: a body the body limit
// refused (413) or the cross-origin check never read (403) is not read here
// either, and the page's script puts the text and key back instead.
func (s *server) sentComposer(c echo.Context, reason string) views.Composer {
	var text, key string
	if form := c.Request().PostForm; form != nil {
		text, key = form.Get("message"), form.Get("key")
	}
	return s.refusedComposer(text, key, reason)
}

// refusedComposer is a composer holding text again, with reason shown and
// the same one-time key (a new one if it had none that this server made),
// so that sending it again cannot post it twice.
func (s *server) refusedComposer(text, key, reason string) views.Composer {
	if key == "" || !validKey(key) {
		key = newKey()
	}
	return views.Composer{Text: strings.ToValidUTF8(text, "\uFFFD"), Key: key, Error: reason, Autofocus: true, MaxLength: s.MaxMessageLength}
}
