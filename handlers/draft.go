package handlers

import (
	"encoding/base64"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// A plain-form send after the session ended is answered 303 to /, which
// shows the join form: that contract predates drafts. The text waits in a
// cookie of its own meanwhile and fills the composer once the person has
// joined again: the no-JavaScript counterpart of chat.js's sessionStorage
// draft.
const (
	draftCookie = "chatzilla-draft"
	// draftMaxAge is how long a draft waits for its writer to join again.
	draftMaxAge = 60 * 60
	// maxDraftCookie keeps the cookie within the 4,096 bytes every browser
	// stores; a longer draft is not kept (the browser's Back still has it).
	maxDraftCookie = 3800
)

// keepDraft keeps text for the composer of the next chat page.
func (s *server) keepDraft(c echo.Context, text string) {
	value := base64.RawURLEncoding.EncodeToString([]byte(text))
	if strings.TrimSpace(text) == "" || len(value) > maxDraftCookie {
		return
	}
	c.SetCookie(s.draftCookie(c, value, draftMaxAge))
}

// hasDraft reports whether a kept draft waits for the person to join.
func hasDraft(c echo.Context) bool {
	_, err := c.Cookie(draftCookie)
	return err == nil
}

// takeDraft returns the kept draft, if any, and forgets it.
func (s *server) takeDraft(c echo.Context) string {
	ck, err := c.Cookie(draftCookie)
	if err != nil {
		return ""
	}
	c.SetCookie(s.draftCookie(c, "", -1))
	b, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil || !utf8.Valid(b) {
		return ""
	}
	return string(b)
}

func (s *server) draftCookie(c echo.Context, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: draftCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.isHTTPS(c),
	}
}
