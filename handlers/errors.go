package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/chatzilla/chatzilla/views"
)

// httpError is an answer other than success: the status and the sentence
// shown to the person. A 4xx is theirs to fix (bad input, too fast); a 5xx,
// such as the store being down (storeUnavailable), is ours, and its cause is
// logged.
type httpError struct {
	status     int
	message    string
	cause      error // logged for 5xx, never shown
	retryAfter int   // seconds, for the Retry-After header; 0: the default (5 s for a 503, else none)
}

func (e *httpError) Error() string {
	if e.cause != nil {
		return strconv.Itoa(e.status) + ": " + e.message + ": " + e.cause.Error()
	}
	return strconv.Itoa(e.status) + ": " + e.message
}

func (e *httpError) Unwrap() error { return e.cause }

func problem(status int, message string) error {
	return &httpError{status: status, message: message}
}

// storeUnavailable is the answer when the store fails: nothing was done, and
// trying again later is the right thing for the person to do.
func storeUnavailable(err error, message string) error {
	return &httpError{status: http.StatusServiceUnavailable, message: message, cause: err}
}

// errorMessages are the sentences shown for errors echo raises itself.
var errorMessages = map[int]string{
	http.StatusNotFound:              "There is no such page.",
	http.StatusMethodNotAllowed:      "That action is not allowed here.",
	http.StatusRequestEntityTooLarge: "That was too much to send at once. Messages can be at most a few thousand characters.",
	http.StatusServiceUnavailable:    "Chatzilla is busy or restarting. Try again in a moment.",
}

// handleError is the one place errors become responses: a page for browsers,
// a fragment for htmx, plain text for everything else. Only server faults
// (5xx) are logged, and their details never reach the response.
func (s *server) handleError(err error, c echo.Context) {
	status, message := http.StatusInternalServerError, "Something went wrong on our side. Please try again."
	var ue *httpError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ue):
		status, message = ue.status, ue.message
	case errors.As(err, &he):
		status = he.Code
		if m, ok := errorMessages[status]; ok {
			message = m
		} else {
			message = http.StatusText(status)
		}
	}
	switch {
	case status == http.StatusRequestTimeout && ue != nil:
		// A client too slow to send its request: the client's problem.
		s.Logger.Info("request too slow", "method", c.Request().Method, "path", c.Request().URL.Path, "err", ue.cause)
	case c.Request().Context().Err() != nil || errors.Is(err, errClientLeft):
		// The client went away (closed the tab, gave up) and whatever
		// failed failed because of it: nothing is wrong with the server.
		s.Logger.Info("client left before the answer", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
	case status >= 500 && (ue == nil || ue.cause != nil):
		s.Logger.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "status", status, "err", err)
	case status >= 500:
		// A deliberate refusal (full, restarting): worth seeing, not an error.
		s.Logger.Warn("request refused", "method", c.Request().Method, "path", c.Request().URL.Path, "status", status, "reason", ue.message)
	}
	if c.Response().Committed {
		return
	}
	switch {
	case ue != nil && ue.retryAfter > 0:
		c.Response().Header().Set("Retry-After", strconv.Itoa(ue.retryAfter))
	case status == http.StatusServiceUnavailable:
		c.Response().Header().Set("Retry-After", "5")
	}

	// A HEAD request gets the same answer, whose body net/http drops.
	p := views.Problem{Status: status, Title: http.StatusText(status), Message: message}
	var rerr error
	switch {
	case isSend(c) && (isHTMX(c) || acceptsHTML(c)):
		rerr = s.renderSendFailed(c, p)
	case isHTMX(c):
		rerr = render(c, status, views.ProblemMessage(p))
	case acceptsHTML(c):
		rerr = render(c, status, views.ProblemPage(s.page, p))
	default:
		rerr = c.String(status, message+"\n")
	}
	if rerr != nil {
		s.Logger.Error("writing error response", "err", rerr)
	}
}

func acceptsHTML(c echo.Context) bool {
	return strings.Contains(strings.ToLower(c.Request().Header.Get("Accept")), "text/html")
}
