package handlers

import "github.com/labstack/echo/v4"

// leave ends the session in the store, so that no copy of its cookie works
// any more, and ends its open streams. With everywhere=true it ends every
// session of the address: leaving on every device.
func (s *server) leave(c echo.Context) error {
	me, joined, err := s.member(c)
	if err != nil {
		return err
	}
	if joined {
		everywhere := c.FormValue("everywhere") == "true"
		ctx := c.Request().Context()
		if everywhere {
			err = s.SessionRecords.EndSessionsOf(ctx, me.Email)
		} else {
			err = s.SessionRecords.EndSession(ctx, me.SessionID)
		}
		if err != nil {
			return storeUnavailable(err, "You have not left: Chatzilla can't reach its database right now. Try again in a moment.")
		}
		// This instance's streams of the session end now; other devices'
		// and instances' with the next look for ended sessions.
		s.sessionStreams.end(me.SessionID)
		s.Live.Roster().Leave(me.Email)
		s.Logger.Info("leave", "sender", me.Email, "everywhere", everywhere)
	}
	if err := s.forgetSession(c); err != nil {
		return err
	}
	return seeOther(c, "/")
}
