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

// createMessage stores a message durably and then broadcasts it. The sender's
// own list is updated by its stream like everyone else's, so an htmx request
// only gets a fresh composer back and the message is never shown twice.
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

	m, err := s.addMessage(c, me.Email, text)
	if err != nil {
		return storeUnavailable(err, "Your message was not sent: Chatzilla can't save messages right now. Try again in a moment.")
	}
	s.Logger.Info("message", "id", m.ID, "sender", me.Email)

	if isHTMX(c) {
		return render(c, http.StatusOK, views.ComposerForm(views.Composer{Autofocus: true}))
	}
	return seeOther(c, "/")
}

// addMessage appends the message and, unless a follower publishes stored
// messages, publishes it too.
func (s *server) addMessage(c echo.Context, sender, text string) (store.Message, error) {
	ctx := c.Request().Context()
	if !s.PublishOnPost {
		return s.Store.AddMessage(ctx, sender, text)
	}
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	m, err := s.Store.AddMessage(ctx, sender, text)
	if err != nil {
		return m, err
	}
	// The message is stored: it is acknowledged even if rendering fails, and
	// streams would then pick it up from the store on their next reconnect.
	if err := Publish(s.Hub, m); err != nil {
		s.Logger.Error("publishing message", "id", m.ID, "err", err)
	}
	return m, nil
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

// Publish renders m once, frames it once and hands it to every stream.
func Publish(h *hub.Hub, m store.Message) error {
	frame, err := messageFrame(m)
	if err != nil {
		return err
	}
	h.Publish(hub.Event{ID: m.ID, Frame: frame})
	return nil
}
