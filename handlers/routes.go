package handlers

import (
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/chatzilla/chatzilla/assets"
)

// maxBodyBytes bounds every request body: a form with one message of
// maxLength characters, each up to 4 bytes and percent-encoded (3 bytes per
// byte), fits, with room for the other fields; anything larger is not a chat
// message.
func maxBodyBytes(maxLength int) int64 {
	const perCharacter, otherFields = 4 * 3, 4 << 10
	return int64(maxLength)*perCharacter + otherFields
}

func (s *server) routes(e *echo.Echo) {
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		// The panicking goroutine's stack alone: with thousands of open
		// streams, every goroutine's would be megabytes.
		DisableStackAll: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.Logger.Error("panic", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err, "stack", string(stack))
			return err // answered by handleError, as a 500 page without details
		},
	}))
	e.Use(s.securityHeaders)
	e.Use(crossOrigin())
	e.Use(middleware.BodyLimit(strconv.FormatInt(maxBodyBytes(s.MaxMessageLength), 10)))

	e.GET("/", s.home)
	e.POST("/join", s.join)
	e.POST("/leave", s.leave)
	e.POST("/messages", s.createMessage)
	e.GET("/events", s.stream)
	e.GET("/healthz", s.healthz)
	e.GET(assets.Prefix+"*", echo.WrapHandler(s.Assets.Handler()))
}
