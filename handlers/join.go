package handlers

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/chatzilla/chatzilla/views"
)

// join starts a session for a valid email address: at once with the open
// sign-in (SIGN_IN=open, unverified), or by mailing a sign-in link.
func (s *server) join(c echo.Context) error {
	typed, err := formValue(c, "email")
	if err != nil {
		return err
	}
	email, reason := validateEmail(typed)
	status := http.StatusUnprocessableEntity
	if reason == "" {
		if wait := s.tooFast(c, s.joinFlood, clientKey(c)); wait > 0 {
			status, reason = http.StatusTooManyRequests, "Too many joins from your network. Try again in "+plural(wait, "second")+"."
		}
	}
	if reason != "" {
		f := views.JoinForm{Email: typed, Error: reason, EmailSignIn: s.EmailSignIn}
		if isHTMX(c) {
			return render(c, status, views.Join(f))
		}
		return render(c, status, views.JoinPage(s.page, f))
	}
	if s.EmailSignIn {
		// A join alone never starts a session: the link mailed does.
		return s.mailLink(c, email)
	}
	if err := s.startSession(c, email); err != nil {
		return err
	}
	s.Logger.Info("join", "sender", email, "ip", c.RealIP())
	return seeOther(c, "/")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}
