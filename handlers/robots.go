package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// robotsTxt lets crawlers see the join page, the only public one, and keeps
// them off the stream, which never ends.
const robotsTxt = "User-agent: *\nDisallow: /events\n"

func robots(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=86400")
	return c.String(http.StatusOK, robotsTxt)
}
