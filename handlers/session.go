package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"net/http"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
)

const (
	sessionName = "chatzilla"
	sessionKey  = "email"
	// sessionMaxAge keeps someone joined for a month of visits.
	sessionMaxAge = 30 * 24 * 60 * 60
)

// NewSessionStore returns a cookie store whose cookies are signed and
// encrypted with keys derived from secret. Older secrets, if given, are still
// accepted for reading, so a secret can be rotated without signing everyone
// out.
func NewSessionStore(secret string, older ...string) *sessions.CookieStore {
	var keyPairs [][]byte
	for _, s := range append([]string{secret}, older...) {
		keyPairs = append(keyPairs, deriveKey(s, "chatzilla session hash"), deriveKey(s, "chatzilla session block"))
	}
	store := sessions.NewCookieStore(keyPairs...)
	store.Options = &sessions.Options{
		Path:     "/",
		MaxAge:   sessionMaxAge,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	store.MaxAge(sessionMaxAge)
	return store
}

// deriveKey makes a 32-byte key for one purpose from the secret, so that the
// signing and encryption keys differ and neither is the secret itself.
func deriveKey(secret, purpose string) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(purpose))
	return mac.Sum(nil)
}

// member is the email of whoever sent the request, or "" if they have not
// joined. A cookie that fails to decode (forged, truncated, expired, signed
// with a retired secret) simply means "not joined".
func (s *server) member(c echo.Context) string {
	sess, err := s.Sessions.Get(c.Request(), sessionName)
	if err != nil {
		return ""
	}
	email, _ := sess.Values[sessionKey].(string)
	return email
}

// setMember starts (email != "") or ends (email == "") the session.
func (s *server) setMember(c echo.Context, email string) error {
	// A cookie that failed to decode still yields a fresh session to write.
	sess, _ := s.Sessions.Get(c.Request(), sessionName)
	opts := *sess.Options
	opts.Secure = s.isHTTPS(c)
	if email == "" {
		delete(sess.Values, sessionKey)
		opts.MaxAge = -1
	} else {
		sess.Values[sessionKey] = email
	}
	sess.Options = &opts
	return sess.Save(c.Request(), c.Response())
}

func (s *server) isHTTPS(c echo.Context) bool {
	if c.Request().TLS != nil {
		return true
	}
	return s.TrustProxy && c.Request().Header.Get("X-Forwarded-Proto") == "https"
}
