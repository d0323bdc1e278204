package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/store"
)

// signInStore is the sign-in token half both backends share.
type signInStore interface {
	CreateSignInToken(ctx context.Context, t store.SignInToken) error
	SignInToken(ctx context.Context, hash string) (store.SignInToken, error)
	UseSignInToken(ctx context.Context, hash string, now time.Time) (store.SignInToken, error)
	SignInTokensSince(ctx context.Context, email string, since time.Time) (int, error)
	DeleteSignInTokensBefore(ctx context.Context, before time.Time) (int64, error)
}

var (
	_ signInStore = (*store.SQLite)(nil)
	_ signInStore = (*store.Postgres)(nil)
)

// tokenLife is how long the app's links are valid.
const tokenLife = 15 * time.Minute

// newToken stores a token for email made at created and returns it as
// stored; its hash is that of a token named after the test's counter.
func newToken(t *testing.T, st signInStore, email string, created time.Time) store.SignInToken {
	t.Helper()
	tok := store.SignInToken{
		Hash:      store.SignInTokenHash(fmt.Sprintf("%s %s %d", t.Name(), email, created.UnixNano())),
		Email:     email,
		CreatedAt: created,
		ExpiresAt: created.Add(tokenLife),
	}
	if err := st.CreateSignInToken(t.Context(), tok); err != nil {
		t.Fatalf("CreateSignInToken: %v", err)
	}
	tok.CreatedAt, tok.ExpiresAt = tok.CreatedAt.UTC().Truncate(time.Microsecond), tok.ExpiresAt.UTC().Truncate(time.Microsecond)
	return tok
}

func sameToken(a, b store.SignInToken) bool {
	return a.Hash == b.Hash && a.Email == b.Email && a.CreatedAt.Equal(b.CreatedAt) &&
		a.ExpiresAt.Equal(b.ExpiresAt) && a.UsedAt.Equal(b.UsedAt)
}

func TestSignInTokens(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, st signInStore, open opener)
	}{
		{"a token is used once", testTokenUsedOnce},
		{"an unknown token is ErrNoToken", testTokenUnknown},
		{"an expired token is refused but readable", testTokenExpired},
		{"concurrent uses: exactly one succeeds", testTokenConcurrentUse},
		{"tokens made since a time are counted per address", testTokensSince},
		{"long expired tokens are deleted", testTokensDeleted},
		{"a token no caller could mean is refused", testTokenRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			eachBackend(t, func(t *testing.T, open opener) {
				tt.run(t, mustOpen(t, open).(signInStore), open)
			})
		})
	}
}

func TestSignInTokenHash(t *testing.T) {
	// SHA-256 test vectors (FIPS 180-2).
	for token, want := range map[string]string{
		"":    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"abc": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	} {
		if got := store.SignInTokenHash(token); got != want {
			t.Errorf("SignInTokenHash(%q) = %s, want %s", token, got, want)
		}
	}
}

func testTokenUsedOnce(t *testing.T, st signInStore, _ opener) {
	ctx := t.Context()
	now := time.Now()
	tok := newToken(t, st, "ann@example.com", now)

	got, err := st.SignInToken(ctx, tok.Hash)
	if err != nil || !sameToken(got, tok) || got.Used() || got.CreatedAt.Location() != time.UTC {
		t.Fatalf("SignInToken = %+v, %v; want %+v", got, err, tok)
	}
	usedAt := now.Add(time.Minute)
	used, err := st.UseSignInToken(ctx, tok.Hash, usedAt)
	tok.UsedAt = usedAt.UTC().Truncate(time.Microsecond)
	if err != nil || !sameToken(used, tok) {
		t.Fatalf("UseSignInToken = %+v, %v; want %+v", used, err, tok)
	}
	if got, err := st.SignInToken(ctx, tok.Hash); err != nil || !sameToken(got, tok) || !got.Used() {
		t.Errorf("after use SignInToken = %+v, %v; want %+v", got, err, tok)
	}
	for _, at := range []time.Time{usedAt, usedAt.Add(time.Second), tok.ExpiresAt.Add(time.Hour)} {
		if _, err := st.UseSignInToken(ctx, tok.Hash, at); !errors.Is(err, store.ErrTokenUsed) {
			t.Errorf("second use at %v: %v, want ErrTokenUsed", at, err)
		}
	}
	if got, _ := st.SignInToken(ctx, tok.Hash); !got.UsedAt.Equal(tok.UsedAt) {
		t.Errorf("a refused use moved UsedAt to %v", got.UsedAt)
	}
}

func testTokenUnknown(t *testing.T, st signInStore, _ opener) {
	ctx := t.Context()
	newToken(t, st, "ann@example.com", time.Now())
	for _, hash := range []string{store.SignInTokenHash("never made"), "", "not even a hash"} {
		if _, err := st.SignInToken(ctx, hash); !errors.Is(err, store.ErrNoToken) || !strings.HasPrefix(err.Error(), "store: ") {
			t.Errorf("SignInToken(%q): %v, want ErrNoToken", hash, err)
		}
		if _, err := st.UseSignInToken(ctx, hash, time.Now()); !errors.Is(err, store.ErrNoToken) || !strings.HasPrefix(err.Error(), "store: ") {
			t.Errorf("UseSignInToken(%q): %v, want ErrNoToken", hash, err)
		}
	}
}

func testTokenExpired(t *testing.T, st signInStore, _ opener) {
	ctx := t.Context()
	now := time.Now()
	tests := []struct {
		name string
		at   time.Duration // when it is used, after it expires
		want error
	}{
		{"an hour after", time.Hour, store.ErrTokenExpired},
		{"at the instant it expires", 0, store.ErrTokenExpired},
		{"a microsecond before", -time.Microsecond, nil},
	}
	for i, tt := range tests {
		tok := newToken(t, st, fmt.Sprintf("p%d@example.com", i), now.Add(-tokenLife))
		_, err := st.UseSignInToken(ctx, tok.Hash, tok.ExpiresAt.Add(tt.at))
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: UseSignInToken: %v, want %v", tt.name, err, tt.want)
		}
		got, err := st.SignInToken(ctx, tok.Hash)
		if err != nil || got.Used() != (tt.want == nil) {
			t.Errorf("%s: then SignInToken = %+v, %v", tt.name, got, err)
		}
	}
	// Used, then expired: what the person needs to hear is that it was used.
	tok := newToken(t, st, "ann@example.com", now)
	if _, err := st.UseSignInToken(ctx, tok.Hash, now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UseSignInToken(ctx, tok.Hash, tok.ExpiresAt.Add(time.Hour)); !errors.Is(err, store.ErrTokenUsed) {
		t.Errorf("used token after expiry: %v, want ErrTokenUsed", err)
	}
}

// testTokenConcurrentUse is a link opened twice at once (a double click, a
// mail scanner racing the person), through two handles on the database as
// two instances would be: one use, however the race goes.
func testTokenConcurrentUse(t *testing.T, st signInStore, open opener) {
	handles := []signInStore{st, mustOpen(t, open).(signInStore)}
	const uses = 20
	for round := range 5 {
		tok := newToken(t, st, fmt.Sprintf("p%d@example.com", round), time.Now())
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, uses)
		for i := range uses {
			wg.Go(func() {
				<-start
				_, errs[i] = handles[i%len(handles)].UseSignInToken(t.Context(), tok.Hash, time.Now())
			})
		}
		close(start)
		wg.Wait()
		succeeded := 0
		for _, err := range errs {
			switch {
			case err == nil:
				succeeded++
			case !errors.Is(err, store.ErrTokenUsed):
				t.Errorf("round %d: UseSignInToken: %v, want nil or ErrTokenUsed", round, err)
			}
		}
		if succeeded != 1 {
			t.Errorf("round %d: %d of %d concurrent uses succeeded, want exactly 1", round, succeeded, uses)
		}
	}
}

func testTokensSince(t *testing.T, st signInStore, _ opener) {
	ctx := t.Context()
	now := time.Now()
	for _, ago := range []time.Duration{90 * time.Minute, 50 * time.Minute, 10 * time.Minute, 0} {
		newToken(t, st, "ann@example.com", now.Add(-ago))
	}
	used := newToken(t, st, "ann@example.com", now.Add(-time.Minute))
	if _, err := st.UseSignInToken(ctx, used.Hash, now); err != nil {
		t.Fatal(err)
	}
	newToken(t, st, "bob@example.com", now)
	tests := []struct {
		email string
		since time.Time
		want  int
	}{
		{"ann@example.com", now.Add(-time.Hour), 4}, // used ones count too
		{"ann@example.com", now.Add(-2 * time.Hour), 5},
		{"ann@example.com", now, 1}, // since is inclusive
		{"ann@example.com", now.Add(time.Microsecond), 0},
		{"bob@example.com", now.Add(-time.Hour), 1},
		{"eve@example.com", now.Add(-time.Hour), 0},
		{"ANN@example.com", now.Add(-time.Hour), 0}, // addresses are compared as given
	}
	for _, tt := range tests {
		if got, err := st.SignInTokensSince(ctx, tt.email, tt.since); err != nil || got != tt.want {
			t.Errorf("SignInTokensSince(%s, now-%v) = %d, %v; want %d", tt.email, now.Sub(tt.since), got, err, tt.want)
		}
	}
}

func testTokensDeleted(t *testing.T, st signInStore, _ opener) {
	ctx := t.Context()
	now := time.Now()
	old := newToken(t, st, "ann@example.com", now.Add(-25*time.Hour))
	older := newToken(t, st, "bob@example.com", now.Add(-48*time.Hour))
	recent := newToken(t, st, "ann@example.com", now.Add(-2*time.Hour))
	live := newToken(t, st, "ann@example.com", now)

	n, err := st.DeleteSignInTokensBefore(ctx, now.Add(-24*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("DeleteSignInTokensBefore = %d, %v; want 2", n, err)
	}
	for _, tok := range []store.SignInToken{old, older} {
		if _, err := st.SignInToken(ctx, tok.Hash); !errors.Is(err, store.ErrNoToken) {
			t.Errorf("deleted token still there: %v", err)
		}
	}
	for _, tok := range []store.SignInToken{recent, live} {
		if _, err := st.SignInToken(ctx, tok.Hash); err != nil {
			t.Errorf("token expired %v ago deleted: %v", now.Sub(tok.ExpiresAt), err)
		}
	}
	if n, err := st.DeleteSignInTokensBefore(ctx, now.Add(-24*time.Hour)); err != nil || n != 0 {
		t.Errorf("second DeleteSignInTokensBefore = %d, %v; want 0", n, err)
	}
}

func testTokenRefused(t *testing.T, st signInStore, _ opener) {
	now := time.Now()
	good := store.SignInToken{Hash: store.SignInTokenHash("t"), Email: "ann@example.com", CreatedAt: now, ExpiresAt: now.Add(tokenLife)}
	tests := []struct {
		name   string
		change func(*store.SignInToken)
	}{
		{"the token itself for a hash", func(tok *store.SignInToken) { tok.Hash = "K5XQ2Z7NPLM4RTW6YV3HJ8GDFA" }},
		{"a hash that is not hex", func(tok *store.SignInToken) { tok.Hash = strings.Repeat("g", 64) }},
		{"no email", func(tok *store.SignInToken) { tok.Email = "" }},
		{"no expiry", func(tok *store.SignInToken) { tok.ExpiresAt = time.Time{} }},
		{"expiring as it is made", func(tok *store.SignInToken) { tok.ExpiresAt = tok.CreatedAt }},
	}
	for _, tt := range tests {
		tok := good
		tt.change(&tok)
		if err := st.CreateSignInToken(t.Context(), tok); err == nil || !strings.HasPrefix(err.Error(), "store: ") {
			t.Errorf("%s: CreateSignInToken: %v, want a store error", tt.name, err)
		}
	}
	if err := st.CreateSignInToken(t.Context(), good); err != nil {
		t.Fatal(err)
	}
	again := good
	again.Email = "eve@example.com"
	if err := st.CreateSignInToken(t.Context(), again); err == nil {
		t.Error("a second token with the same hash was stored")
	}
	if got, _ := st.SignInToken(t.Context(), good.Hash); got.Email != good.Email {
		t.Errorf("the token now signs in %s", got.Email)
	}
	// A zero CreatedAt is now, so the rate limit counts it.
	unset := store.SignInToken{Hash: store.SignInTokenHash("u"), Email: "bob@example.com", ExpiresAt: time.Now().Add(tokenLife)}
	if err := st.CreateSignInToken(t.Context(), unset); err != nil {
		t.Fatal(err)
	}
	if n, err := st.SignInTokensSince(t.Context(), "bob@example.com", now.Add(-time.Minute)); err != nil || n != 1 {
		t.Errorf("token with zero CreatedAt: counted %d, %v", n, err)
	}
}
