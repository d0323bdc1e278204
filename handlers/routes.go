package handlers

import (
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/chatzilla/chatzilla/assets"
)

// maxBodyBytes bounds every request body. A form with one message of the
// longest allowed length (2,000 characters of up to 4 bytes, percent-encoded)
// fits easily; anything larger is not a chat message.
const maxBodyBytes = "64K"

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
	e.Use(middleware.BodyLimit(maxBodyBytes))

	e.GET("/", s.home)
	e.POST("/join", s.join)
	e.POST("/leave", s.leave)
	e.POST("/messages", s.createMessage)
	e.GET("/events", s.stream)
	e.GET("/healthz", s.healthz)
	e.GET(assets.Prefix+"*", echo.WrapHandler(s.Assets.Handler()))
}
