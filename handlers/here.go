package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// PageVisit is how long a page load without JavaScript counts its reader as
// online. Such a page has no stream to say they are there, and it asks them
// to reload for new messages.
const PageVisit = time.Minute

// here is asked for by the chat page from inside <noscript>, so only by a
// page without JavaScript (a page with it has a stream instead): it counts
// the reader as online for PageVisit.
func (s *server) here(c echo.Context) error {
	me, joined, err := s.member(c)
	if err != nil {
		return err
	}
	if !joined {
		return c.NoContent(http.StatusNoContent)
	}
	s.Live.Roster().Visit(me.Email, PageVisit)
	c.Response().Header().Set("Cache-Control", "no-store") // every page load asks again
	return c.NoContent(http.StatusNoContent)
}
