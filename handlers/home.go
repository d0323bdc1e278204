package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/chatzilla/chatzilla/views"
)

// home shows the join form, or the chat to someone who has joined.
func (s *server) home(c echo.Context) error {
	me, joined := s.member(c)
	if !joined {
		return render(c, http.StatusOK, views.JoinPage(s.page, views.JoinForm{}))
	}
	return s.renderChat(c, http.StatusOK, me.Email, views.Composer{Autofocus: true})
}

func (s *server) renderChat(c echo.Context, status int, me string, composer views.Composer) error {
	history, err := s.Store.RecentMessages(c.Request().Context(), s.HistorySize)
	if err != nil {
		return storeUnavailable(err, "Chatzilla can't load the messages right now. Try again in a moment.")
	}
	// The page must not be cached: its stream starts after the last message
	// it shows, and a stale copy would start from a stale point.
	c.Response().Header().Set("Cache-Control", "no-store")
	return render(c, status, views.ChatPage(s.page, views.Chat{
		Me:       me,
		Messages: messageViews(history),
		Composer: composer,
	}))
}
