package handlers

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"github.com/chatzilla/chatzilla/store"
)

const (
	sessionName = "chatzilla"
	// idKey holds the session's id, the one thing the cookie carries: who
	// joined, and whether the session is still open, are in the store, so
	// that leaving ends every copy of the cookie.
	idKey = "id"
	// sessionMaxAge keeps someone joined for a month of visits.
	sessionMaxAge = 30 * 24 * 60 * 60
	// touchEvery is how stale a session's "last seen" may get before a
	// request updates it: often enough to tell a live session from an
	// abandoned one, rarely enough to cost no write per request.
	touchEvery = time.Minute
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
	for _, c := range store.Codecs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			sc.SetSerializer(cookieValues{})
		}
	}
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
	Verified  bool // signed in with a link mailed to Email
}

// member returns who sent the request; ok is false if they have not joined,
// or their session has ended or expired. A cookie that fails to decode
// (forged, truncated, expired, signed with a retired secret) simply means
// "not joined". err is set only when the store cannot say.
func (s *server) member(c echo.Context) (m member, ok bool, err error) {
	cookie, err := s.Sessions.Get(c.Request(), sessionName)
	if err != nil {
		return member{}, false, nil
	}
	id, _ := cookie.Values[idKey].(string)
	if id == "" {
		return member{}, false, nil
	}
	ctx := c.Request().Context()
	sess, err := s.SessionRecords.Session(ctx, id)
	switch {
	case errors.Is(err, store.ErrNoSession):
		return member{}, false, nil
	case err != nil:
		return member{}, false, storeUnavailable(err, "Chatzilla can't check who you are right now. Try again in a moment.")
	case sess.Ended(), time.Since(sess.LastSeen) > sessionMaxAge*time.Second:
		return member{}, false, nil
	}
	if time.Since(sess.LastSeen) > touchEvery {
		s.touch(id)
	}
	return member{Email: sess.Email, SessionID: id, Verified: sess.Verified}, true, nil
}

// touch records that the session was just used, in the background: it is
// bookkeeping the request need not wait for, and after a restart every page
// that reconnects touches its session at once (the store writes the touches
// that arrive together in one statement). A session already being touched
// is not touched again meanwhile.
func (s *server) touch(id string) {
	if _, busy := s.touching.LoadOrStore(id, struct{}{}); busy {
		return
	}
	s.Background.Go(func() {
		defer s.touching.Delete(id)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.SessionRecords.TouchSession(ctx, id); err != nil {
			s.Logger.Warn("recording a session's last visit", "err", err)
		}
	})
}

// startSession joins email with a new session.
func (s *server) startSession(c echo.Context, email string) error {
	id := rand.Text()
	if err := s.SessionRecords.StartSession(c.Request().Context(), id, email); err != nil {
		return storeUnavailable(err, "You could not join: Chatzilla can't reach its database right now. Try again in a moment.")
	}
	return s.saveSession(c, map[any]any{idKey: id}, sessionMaxAge)
}

// forgetSession asks the browser to delete its cookie; the session itself is
// ended in the store.
func (s *server) forgetSession(c echo.Context) error {
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

// cookieValues writes a session cookie's values (string keys and values:
// the session id, or the address waiting for its sign-in link) as JSON.
// The default, gob, compiles its decoder anew for every cookie it reads,
// which was a quarter of the CPU of a crowd reconnecting after a restart.
// Cookies written as gob before it are still read.
type cookieValues struct{}

func (cookieValues) Serialize(src any) ([]byte, error) {
	m, ok := src.(map[any]any)
	if !ok {
		return nil, fmt.Errorf("session cookie: cannot write %T", src)
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		ks, ok1 := k.(string)
		vs, ok2 := v.(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("session cookie: cannot write %T: %T", k, v)
		}
		out[ks] = vs
	}
	return json.Marshal(out)
}

func (cookieValues) Deserialize(src []byte, dst any) error {
	m, ok := dst.(*map[any]any)
	if !ok {
		return fmt.Errorf("session cookie: cannot read into %T", dst)
	}
	var in map[string]string
	if err := json.Unmarshal(src, &in); err != nil {
		return securecookie.GobEncoder{}.Deserialize(src, dst) // written before
	}
	if *m == nil {
		*m = make(map[any]any, len(in))
	}
	for k, v := range in {
		(*m)[k] = v
	}
	return nil
}
