package handlers

import (
	"context"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/views"
)

// home shows the join form or, to someone who has joined, the chat: the
// latest messages, or with ?before=ID the page of messages before ID (as a
// fragment for htmx's "Load older messages", as a page without JavaScript).
func (s *server) home(c echo.Context) error {
	// The same URL is the join form or someone's chat, by session cookie.
	c.Response().Header().Add("Vary", "Cookie")
	me, joined, err := s.member(c)
	if err != nil {
		return err
	}
	if !joined {
		// The same for everyone, but checked each time: a visitor who has
		// just joined must not be shown the form from cache.
		c.Response().Header().Set("Cache-Control", "no-cache")
		return render(c, http.StatusOK, views.JoinPage(s.page, views.JoinForm{DraftKept: hasDraft(c), EmailSignIn: s.EmailSignIn}))
	}
	if c.QueryParam("before") == "" {
		composer := s.newComposer()
		composer.Text = s.takeDraft(c)
		return s.renderChat(c, http.StatusOK, me.Email, composer)
	}
	before, err := strconv.ParseInt(c.QueryParam("before"), 10, 64)
	if err != nil || before < 1 {
		return problem(http.StatusBadRequest, "before must be a message id (a whole number above 0).")
	}
	h, err := s.history(c.Request().Context(), before, me.Email)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "private, no-cache")
	if isHTMX(c) {
		return render(c, http.StatusOK, views.HistoryItems(h))
	}
	online := s.Live.Roster().Online()
	return render(c, http.StatusOK, views.ChatPage(s.page, views.Chat{
		Me: me.Email, Messages: h.Messages, HasOlder: h.HasOlder, Archive: true,
		Online: online, Names: s.names(c.Request().Context(), online), Unverified: !s.EmailSignIn,
		Composer: views.Composer{Key: newKey(), MaxLength: s.MaxMessageLength},
	}))
}

// renderChat is the chat page with the latest messages.
func (s *server) renderChat(c echo.Context, status int, me string, composer views.Composer) error {
	h, err := s.history(c.Request().Context(), 0, me)
	if err != nil {
		return err
	}
	// The page must not be cached: its stream starts after the last message
	// it shows, and a stale copy would start from a stale point.
	c.Response().Header().Set("Cache-Control", "no-store")
	composer.MaxLength = s.MaxMessageLength
	online := s.Live.Roster().Online()
	return render(c, status, views.ChatPage(s.page, views.Chat{
		Me:         me,
		Messages:   h.Messages,
		HasOlder:   h.HasOlder,
		Online:     online,
		Names:      s.names(c.Request().Context(), online),
		Unverified: !s.EmailSignIn,
		Composer:   composer,
	}))
}

// names are the display names of the people "who's online" lists; without
// them (the store failed) it lists addresses, and the page is still shown.
func (s *server) names(ctx context.Context, online []string) map[string]string {
	names, err := s.People.DisplayNames(ctx, online[:min(len(online), views.MaxPeopleShown)])
	if err != nil {
		s.Logger.Warn("reading display names for who's online", "err", err)
	}
	return names
}

// history is a page of HistorySize messages before the message before, or
// the latest ones when before is 0, as the reader me sees them. It reads one
// more than it shows to know whether there are older ones, and that one is
// also what the first message shown follows on from.
func (s *server) history(ctx context.Context, before int64, me string) (views.History, error) {
	var ms []store.Message
	var err error
	if before > 0 {
		ms, err = s.Store.MessagesBefore(ctx, before, s.HistorySize+1)
	} else {
		ms, err = s.Store.RecentMessages(ctx, s.HistorySize+1)
	}
	if err != nil {
		return views.History{}, storeUnavailable(err, "Chatzilla can't load the messages right now. Try again in a moment.")
	}
	vs := messageViews(ms)
	h := views.History{HasOlder: len(vs) > s.HistorySize}
	var prev *views.Message
	if h.HasOlder {
		prev, vs = &vs[0], vs[1:]
	}
	h.Messages = views.InLogOrder(prev, vs, me)
	return h, nil
}
