package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/chatzilla/chatzilla/views"
)

// join starts a session for a valid email address.
func (s *server) join(c echo.Context) error {
	typed := c.FormValue("email")
	email, problem := validateEmail(typed)
	if problem != "" {
		f := views.JoinForm{Email: typed, Error: problem}
		if isHTMX(c) {
			return render(c, http.StatusUnprocessableEntity, views.Join(f))
		}
		return render(c, http.StatusUnprocessableEntity, views.JoinPage(s.page, f))
	}
	if err := s.setMember(c, email); err != nil {
		return err
	}
	s.Logger.Info("join", "sender", email, "ip", c.RealIP())
	return seeOther(c, "/")
}
