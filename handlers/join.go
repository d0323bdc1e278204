package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chatzilla/chatzilla/views"
)

// join starts a session for a valid email address.
func (s *server) join(c echo.Context) error {
	typed, err := formValue(c, "email")
	if err != nil {
		return err
	}
	email, reason := validateEmail(typed)
	status := http.StatusUnprocessableEntity
	if reason == "" && s.Limits.FloodControl {
		if ok, wait := s.joinFlood.take(time.Now(), clientKey(c)); !ok {
			secs := retryAfterSeconds(wait)
			c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
			status, reason = http.StatusTooManyRequests, "Too many joins from your network. Try again in "+plural(secs, "second")+"."
		}
	}
	if reason != "" {
		f := views.JoinForm{Email: typed, Error: reason}
		if isHTMX(c) {
			return render(c, status, views.Join(f))
		}
		return render(c, status, views.JoinPage(s.page, f))
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
