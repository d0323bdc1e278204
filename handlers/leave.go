package handlers

import "github.com/labstack/echo/v4"

// leave ends the session.
func (s *server) leave(c echo.Context) error {
	me := s.member(c)
	if err := s.setMember(c, ""); err != nil {
		return err
	}
	if me != "" {
		s.Logger.Info("leave", "sender", me)
	}
	return seeOther(c, "/")
}
