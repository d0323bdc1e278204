package handlers

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"net/http"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
)

const (
	sessionName = "chatzilla"
	emailKey    = "email"
	// idKey holds a random id per join: flood control and stream limits
	// count per session, and an email alone does not tell sessions apart.
	idKey = "id"
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

// member is someone who has joined.
type member struct {
	Email     string
	SessionID string
}

// member returns who sent the request; ok is false if they have not joined.
// A cookie that fails to decode (forged, truncated, expired, signed with a
// retired secret) simply means "not joined".
func (s *server) member(c echo.Context) (m member, ok bool) {
	sess, err := s.Sessions.Get(c.Request(), sessionName)
	if err != nil {
		return member{}, false
	}
	m.Email, _ = sess.Values[emailKey].(string)
	m.SessionID, _ = sess.Values[idKey].(string)
	return m, m.Email != "" && m.SessionID != ""
}

// startSession joins email with a new session id; endSession leaves.
func (s *server) startSession(c echo.Context, email string) error {
	return s.saveSession(c, map[any]any{emailKey: email, idKey: rand.Text()}, sessionMaxAge)
}

func (s *server) endSession(c echo.Context) error {
	return s.saveSession(c, map[any]any{}, -1)
}

func (s *server) saveSession(c echo.Context, values map[any]any, maxAge int) error {
	// A cookie that failed to decode still yields a fresh session to write.
	sess, _ := s.Sessions.Get(c.Request(), sessionName)
	sess.Values = values
	opts := *sess.Options
	opts.MaxAge = maxAge
	opts.Secure = s.isHTTPS(c)
	sess.Options = &opts
	return sess.Save(c.Request(), c.Response())
}

func (s *server) isHTTPS(c echo.Context) bool {
	if c.Request().TLS != nil {
		return true
	}
	return s.TrustProxy && c.Request().Header.Get("X-Forwarded-Proto") == "https"
}
