package handlers

import (
	"net/http"
	"strconv"
	"strings"

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
	e.Use(middleware.GzipWithConfig(middleware.GzipConfig{
		Skipper:   skipCompression,
		MinLength: minCompressedLength,
	}))

	get(e, "/", s.home)
	e.POST("/join", s.join)
	get(e, "/check-inbox", s.checkInbox)
	get(e, "/sign-in", s.signInPage)
	e.POST("/sign-in", s.signIn)
	get(e, "/profile", s.profile)
	e.POST("/profile", s.saveProfile)
	e.POST("/leave", s.leave)
	e.POST("/messages", s.createMessage)
	get(e, "/events", s.stream)
	e.POST("/rooms", s.createRoom)
	get(e, "/rooms/:slug", s.showRoom)
	e.POST("/rooms/:slug/messages", s.createMessage)
	get(e, "/rooms/:slug/events", s.stream)
	e.POST("/rooms/:slug/join", s.joinRoom)
	e.POST("/rooms/:slug/leave", s.leaveRoom)
	e.POST("/rooms/:slug/members", s.invite)
	e.POST("/rooms/:slug/read", s.markRead)
	e.POST("/dm", s.directMessage)
	get(e, "/here", s.here)
	get(e, "/healthz", s.healthz)
	get(e, "/robots.txt", robots)
	get(e, assets.Prefix+"*", echo.WrapHandler(s.Assets.Handler()))
}

// get routes GET and HEAD to h. HEAD runs the same handler: net/http sends
// the head it writes and drops the body, so the answers agree (uptime
// monitors and link checkers use HEAD).
func get(e *echo.Echo, path string, h echo.HandlerFunc) {
	e.Match([]string{http.MethodGet, http.MethodHead}, path, h)
}

// minCompressedLength is the smallest body worth gzipping: a shorter one
// (a fragment, "ok") shrinks by less than gzip's header and trailer add.
const minCompressedLength = 256

// skipCompression leaves alone what must not go through gzip: the stream,
// which takes over the connection and writes each event to the socket at
// once (a compressor would hold events back until its buffer filled), and
// the assets, which are compressed ahead of time. Only pages (GET and HEAD)
// are compressed: the answers to posts are redirects and small fragments,
// and the middleware gives every request it does not skip a compressor of
// about a megabyte, so a crowd joining at once cost hundreds of megabytes.
func skipCompression(c echo.Context) bool {
	if m := c.Request().Method; m != http.MethodGet && m != http.MethodHead {
		return true
	}
	p := c.Request().URL.Path
	return p == "/events" || strings.HasPrefix(p, "/rooms/") && strings.HasSuffix(p, "/events") || strings.HasPrefix(p, assets.Prefix)
}
