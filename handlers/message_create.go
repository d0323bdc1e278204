package handlers

import (
	"crypto/rand"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/views"
)

// createMessage stores a message durably; the store's follower then
// broadcasts it (see stream.Pipeline), in id order. The sender's own list is updated
// by its stream like everyone else's, so an htmx request only gets a fresh
// composer back and the message is never shown twice.
func (s *server) createMessage(c echo.Context) error {
	// The form is read first, so that whatever refuses the message, the
	// composer comes back with its text (see renderSendFailed).
	typed, err := formValue(c, "message")
	if err != nil {
		return err
	}
	key := c.FormValue("key")

	me, joined, err := s.member(c)
	if err != nil {
		return err
	}
	if !joined {
		if isHTMX(c) {
			return problem(http.StatusUnauthorized, "Your session ended, so this was not sent: join again to send it.")
		}
		s.keepDraft(c, typed)
		return seeOther(c, "/")
	}
	room, err := s.roomOf(c, me)
	if err != nil {
		return err
	}
	text, reason := validateMessage(typed, s.MaxMessageLength)
	status := http.StatusUnprocessableEntity
	if !validKey(key) {
		// Not a key this server made: the form came from something else.
		key = ""
		if reason == "" {
			reason = "This form is out of date. Send your message again."
		}
	}
	if reason == "" {
		if wait := s.tooFast(c, s.messageFlood, "session:"+me.SessionID, clientKey(c)); wait > 0 {
			status, reason = http.StatusTooManyRequests, "You're sending messages too fast. Wait "+plural(wait, "second")+" and send again."
		}
	}
	// A refused message keeps its key: if an earlier try of it did reach
	// the store, sending it again must not post it twice.
	refuse := func(status int, reason string) error {
		return s.renderRefused(c, status, s.refusedComposer(typed, key, reason))
	}
	if reason != "" {
		return refuse(status, reason)
	}

	author := store.Author{Email: me.Email, Verified: me.Verified}
	if p, err := s.People.Person(c.Request().Context(), me.Email); err == nil {
		author.Name = p.Name
	} else {
		// The message matters more than the name: sent under the address.
		s.Logger.Warn("reading a display name", "sender", me.Email, "err", err)
	}
	if room.ID != store.GeneralID && room.Kind == store.RoomOpen {
		// Posting in an open room one is not in joins it, as the page's
		// Join button would.
		in, err := s.Rooms.IsMember(c.Request().Context(), room.ID, me.Email)
		if err != nil {
			return refuse(http.StatusServiceUnavailable, notSaved)
		}
		if !in {
			if err := s.addMember(c, room, me.Email); err != nil {
				return refuse(http.StatusServiceUnavailable, notSaved)
			}
		}
	}
	m, err := s.Store.AddMessageIn(c.Request().Context(), room.ID, author, text, key)
	switch {
	case c.Request().Context().Err() != nil:
		// The client left, and the store may be fine: the outcome says
		// nothing about the store's health.
	case errors.Is(err, store.ErrAlreadyStored):
		s.writeHealth.record(nil)
	default:
		s.writeHealth.record(err)
	}
	switch {
	case err == nil:
		s.Logger.Info("message", "id", m.ID, "room", room.Slug, "sender", me.Email)
	case errors.Is(err, store.ErrAlreadyStored):
		// A retry of a message that was stored: the sender missed the
		// answer, so it is given again, and nothing is stored or sent twice.
		s.Logger.Info("message already stored", "sender", me.Email)
	case c.Request().Context().Err() != nil:
		s.Logger.Info("storing message: client left before the answer", "sender", me.Email, "err", err)
		return nil
	default:
		s.Logger.Error("storing message", "sender", me.Email, "err", err)
		c.Response().Header().Set("Retry-After", "5")
		if errors.Is(err, store.ErrOutcomeUnknown) {
			return refuse(http.StatusServiceUnavailable, "Your message may not have been sent: Chatzilla lost its connection to the database. Send it again; it will not appear twice.")
		}
		return refuse(http.StatusServiceUnavailable, notSaved)
	}

	if isHTMX(c) {
		composer := s.newComposer()
		composer.Action = composerAction(room)
		return render(c, http.StatusOK, views.ComposerForm(composer))
	}
	return seeOther(c, roomURL(room))
}

// newComposer is an empty composer with a new one-time key.
func (s *server) newComposer() views.Composer {
	return views.Composer{Key: newKey(), Autofocus: true, MaxLength: s.MaxMessageLength}
}

// newKey makes a message's one-time key: random, so no two composers share
// one, and made here, so it works without JavaScript.
func newKey() string { return rand.Text() }

// validKey accepts no key (a client that does without idempotency) or one
// shaped like those newKey makes.
func validKey(key string) bool {
	if len(key) > store.MaxKeyLength {
		return false
	}
	for _, r := range key {
		if !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
