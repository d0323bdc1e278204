package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// contentSecurityPolicy allows only the app's own scripts and styles: no
// inline script, no eval (htmx is used without hx-on or js: expressions, so it
// needs neither), no framing, forms that post only here.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders sets the headers every response carries.
func (s *server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY") // for browsers that predate frame-ancestors
		h.Set("Referrer-Policy", "same-origin")
		if s.isHTTPS(c) {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		return next(c)
	}
}

// crossOrigin refuses state-changing requests that a browser sent on behalf
// of another site (Sec-Fetch-Site, or Origin against Host), which is what a
// CSRF token would otherwise guard against. Requests from non-browser clients
// carry neither header and pass.
func crossOrigin() echo.MiddlewareFunc {
	protection := http.NewCrossOriginProtection()
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := protection.Check(c.Request()); err != nil {
				return problem(http.StatusForbidden, "Chatzilla refused a request that came from another site. Open Chatzilla directly and try again.")
			}
			return next(c)
		}
	}
}
