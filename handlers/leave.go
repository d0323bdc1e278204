package handlers

import "github.com/labstack/echo/v4"

// leave ends the session.
func (s *server) leave(c echo.Context) error {
	me, joined := s.member(c)
	if err := s.endSession(c); err != nil {
		return err
	}
	if joined {
		s.Presence.Leave(me.Email)
		s.Logger.Info("leave", "sender", me.Email)
	}
	return seeOther(c, "/")
}
