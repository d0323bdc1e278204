package handlers

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// maxMultipartMemory bounds a multipart form held in memory; the body limit
// (maxBodyBytes) bounds it anyway.
const maxMultipartMemory = 64 << 10

// errClientLeft marks a failure caused by the client going away.
var errClientLeft = errors.New("client left")

// formValue reads the form and returns one of its fields. Unlike
// echo.Context.FormValue it does not treat a body that never fully arrived
// as an empty form: the person would be told to type what they did type.
func formValue(c echo.Context, name string) (string, error) {
	r := c.Request()
	err := r.ParseForm()
	if err == nil && strings.HasPrefix(r.Header.Get(echo.HeaderContentType), echo.MIMEMultipartForm) {
		if err = r.ParseMultipartForm(maxMultipartMemory); errors.Is(err, http.ErrNotMultipart) {
			err = nil
		}
	}
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) { // the body limit's 413
			return "", he
		}
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			return "", &httpError{status: http.StatusRequestTimeout, message: "What you sent did not arrive in time. Try again.", cause: err}
		}
		// Cut off half way: the client left, or its connection broke.
		return "", &httpError{status: http.StatusBadRequest, message: "What you sent did not arrive in full. Try again.", cause: fmt.Errorf("%w: %w", errClientLeft, err)}
	}
	return r.FormValue(name), nil
}
