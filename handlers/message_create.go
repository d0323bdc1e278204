package handlers

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chatzilla/chatzilla/hub"
	"github.com/chatzilla/chatzilla/presence"
	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/views"
)

// createMessage stores a message durably; the store's follower then
// broadcasts it (see Publish), in id order. The sender's own list is updated
// by its stream like everyone else's, so an htmx request only gets a fresh
// composer back and the message is never shown twice.
func (s *server) createMessage(c echo.Context) error {
	me, joined := s.member(c)
	if !joined {
		if isHTMX(c) {
			return problem(http.StatusUnauthorized, "You are no longer in the chat. Reload the page to join again.")
		}
		return seeOther(c, "/")
	}

	typed := c.FormValue("message")
	text, reason := validateMessage(typed, s.MaxMessageLength)
	status := http.StatusUnprocessableEntity
	if reason == "" && s.Limits.FloodControl {
		if ok, wait := s.messageFlood.take(time.Now(), "session:"+me.SessionID, "ip:"+c.RealIP()); !ok {
			secs := retryAfterSeconds(wait)
			c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
			status, reason = http.StatusTooManyRequests, "You're sending messages too fast. Wait "+plural(secs, "second")+" and send again."
		}
	}
	if reason != "" {
		composer := views.Composer{Text: strings.ToValidUTF8(typed, "\uFFFD"), Error: reason, Autofocus: true}
		if isHTMX(c) {
			return render(c, status, views.ComposerForm(composer))
		}
		return s.renderChat(c, status, me.Email, composer)
	}

	m, err := s.Store.AddMessage(c.Request().Context(), me.Email, text)
	if err != nil {
		return storeUnavailable(err, "Your message was not sent: Chatzilla can't save messages right now. Try again in a moment.")
	}
	s.Logger.Info("message", "id", m.ID, "sender", me.Email)

	if isHTMX(c) {
		return render(c, http.StatusOK, views.ComposerForm(views.Composer{Autofocus: true}))
	}
	return seeOther(c, "/")
}

// PublishPresence tells every stream who joined or left.
func PublishPresence(h *hub.Hub, c presence.Change) error {
	frame, err := presenceFrame(c)
	if err != nil {
		return err
	}
	h.Publish(hub.Event{Frame: frame})
	return nil
}

// Publish renders m once, frames it once and hands it to every stream. The
// store's follower calls it for every stored message, in id order.
func Publish(h *hub.Hub, m store.Message) error {
	frame, err := messageFrame(m)
	if err != nil {
		return err
	}
	h.Publish(hub.Event{ID: m.ID, Frame: frame})
	return nil
}
