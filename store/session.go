package store

import (
	"errors"
	"time"
)

// ErrNoSession is returned (wrapped; test with errors.Is) when a session id
// does not exist.
var ErrNoSession = errors.New("store: session not found")

// Session is one join: a browser that joined with an address, from then
// until it leaves (or someone leaves on every device). The session cookie
// carries only its ID, so ending the record ends the session wherever a copy
// of the cookie is.
type Session struct {
	ID        string
	Email     string
	CreatedAt time.Time
	LastSeen  time.Time // updated now and then while it is used, not on every request
	EndedAt   time.Time // zero while the session is open
	// Verified is true for a session started by following an emailed
	// sign-in link (StartVerifiedSession), false for the open join, where
	// anyone may type any address.
	Verified bool
}

// Ended reports whether the session was ended.
func (s Session) Ended() bool { return !s.EndedAt.IsZero() }
