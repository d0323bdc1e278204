package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Sign-in tokens are the one-time links of the email sign-in. The store keeps
// only a token's hash, so a copy of the database (a backup, a leak) signs no
// one in; a link is looked up by hashing what it carries. Looking up by hash
// also leaves nothing to compare byte by byte in Go: no timing tells an
// attacker how much of a guess was right.
//
// All times are the caller's (the app's clock), kept to the microsecond, so
// both backends judge expiry and rate limits alike.

var (
	// ErrNoToken is returned (wrapped) for a hash no stored token has: never
	// made, mistyped or tampered with, or deleted as long expired.
	ErrNoToken = errors.New("store: sign-in token not found")
	// ErrTokenUsed is returned (wrapped) by UseSignInToken for a token that
	// was used already, by this request's twin or anyone else.
	ErrTokenUsed = errors.New("store: sign-in token already used")
	// ErrTokenExpired is returned (wrapped) by UseSignInToken for an unused
	// token past its ExpiresAt.
	ErrTokenExpired = errors.New("store: sign-in token expired")
)

// SignInToken is one emailed sign-in link as stored.
type SignInToken struct {
	Hash      string    // SignInTokenHash of the token the link carries
	Email     string    // the address the link was mailed to, and signs in as
	CreatedAt time.Time // UTC; when the link was made (counts towards the mail rate limit)
	ExpiresAt time.Time // UTC; the token is refused from this instant on
	UsedAt    time.Time // UTC; zero while unused
}

// Used reports whether the token was used.
func (t SignInToken) Used() bool { return !t.UsedAt.IsZero() }

// SignInTokenHash is how a token is stored and looked up: the hex SHA-256 of
// the token as the link carries it. A token has enough entropy of its own
// that no salt or slow hash is needed.
func SignInTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// checkSignInToken rejects a token no caller could have meant to store; in
// particular a hash that is not a hex SHA-256 is likely the token itself.
// It returns t with its times as they will be read back.
func checkSignInToken(t SignInToken) (SignInToken, error) {
	const op = "store: create sign-in token"
	if len(t.Hash) != hex.EncodedLen(sha256.Size) {
		return t, fmt.Errorf("%s: hash is %d characters, want the %d of a hex SHA-256", op, len(t.Hash), hex.EncodedLen(sha256.Size))
	}
	if _, err := hex.DecodeString(t.Hash); err != nil {
		return t, fmt.Errorf("%s: hash is not hex: %w", op, err)
	}
	if t.Email == "" {
		return t, fmt.Errorf("%s: no email", op)
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now()
	}
	t.CreatedAt, t.ExpiresAt = microUTC(t.CreatedAt), microUTC(t.ExpiresAt)
	if !t.ExpiresAt.After(t.CreatedAt) {
		return t, fmt.Errorf("%s: expires at %v, not after it is created at %v", op, t.ExpiresAt, t.CreatedAt)
	}
	t.UsedAt = time.Time{}
	return t, nil
}

// microUTC is t as the database keeps it: UTC, to the microsecond.
func microUTC(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// whyUnusable says why UseSignInToken did not take a token it has just read
// back. A token's state only moves forward (unused to used, then deleted),
// so what is read after the failed update explains the failure.
func whyUnusable(t SignInToken, now time.Time) error {
	switch {
	case t.Used():
		return ErrTokenUsed
	case !t.ExpiresAt.After(now):
		return ErrTokenExpired
	default:
		// The update's condition and this read disagree, which no order
		// of events explains; say so rather than pretend to know.
		return errors.New("token was neither used nor expired, yet could not be used")
	}
}
