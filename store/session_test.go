package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/store"
)

// sessionStore is the session half both backends share.
type sessionStore interface {
	StartSession(ctx context.Context, id, email string) error
	StartVerifiedSession(ctx context.Context, id, email string) error
	Session(ctx context.Context, id string) (store.Session, error)
	TouchSession(ctx context.Context, id string) error
	EndSession(ctx context.Context, id string) error
	EndSessionsOf(ctx context.Context, email string) error
	EndedSessions(ctx context.Context, within time.Duration) ([]string, error)
}

var (
	_ sessionStore = (*store.SQLite)(nil)
	_ sessionStore = (*store.Postgres)(nil)
)

func TestSessions(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		ctx := t.Context()
		st := mustOpen(t, open).(sessionStore)
		if _, err := st.Session(ctx, "nobody"); !errors.Is(err, store.ErrNoSession) {
			t.Fatalf("missing session: %v, want ErrNoSession", err)
		}
		for _, s := range []struct{ id, email string }{{"a1", "ann@example.com"}, {"a2", "ann@example.com"}, {"b1", "bob@example.com"}} {
			if err := st.StartSession(ctx, s.id, s.email); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.StartSession(ctx, "a1", "eve@example.com"); err == nil {
			t.Error("a session id was taken twice")
		}
		a1, err := st.Session(ctx, "a1")
		if err != nil {
			t.Fatal(err)
		}
		if a1.Email != "ann@example.com" || a1.Ended() || time.Since(a1.CreatedAt) > time.Minute || a1.LastSeen.Before(a1.CreatedAt) {
			t.Errorf("new session %+v", a1)
		}
		time.Sleep(10 * time.Millisecond)
		if err := st.TouchSession(ctx, "a1"); err != nil {
			t.Fatal(err)
		}
		if touched, _ := st.Session(ctx, "a1"); !touched.LastSeen.After(a1.LastSeen) {
			t.Errorf("last seen %v after touch, was %v", touched.LastSeen, a1.LastSeen)
		}

		if ids, err := st.EndedSessions(ctx, time.Minute); err != nil || len(ids) != 0 {
			t.Fatalf("ended sessions before any ended: %v %v", ids, err)
		}
		if err := st.EndSession(ctx, "b1"); err != nil {
			t.Fatal(err)
		}
		if b1, _ := st.Session(ctx, "b1"); !b1.Ended() {
			t.Error("b1 not ended")
		}
		if a1, _ := st.Session(ctx, "a1"); a1.Ended() {
			t.Error("ending b1 ended a1")
		}
		if err := st.EndSessionsOf(ctx, "ann@example.com"); err != nil {
			t.Fatal(err)
		}
		ids, err := st.EndedSessions(ctx, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(ids)
		if !slices.Equal(ids, []string{"a1", "a2", "b1"}) {
			t.Errorf("ended sessions %v", ids)
		}
		time.Sleep(50 * time.Millisecond)
		if ids, err := st.EndedSessions(ctx, 20*time.Millisecond); err != nil || len(ids) != 0 {
			t.Errorf("sessions ended over 20ms ago counted as recent: %v %v", ids, err)
		}

		// Sessions are kept across a reopen (a restart).
		again := mustOpen(t, open).(sessionStore)
		if b1, err := again.Session(ctx, "b1"); err != nil || !b1.Ended() || b1.Email != "bob@example.com" {
			t.Errorf("after reopen: %+v %v", b1, err)
		}
	})
}

func TestVerifiedSessions(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		ctx := t.Context()
		st := mustOpen(t, open).(sessionStore)
		tests := []struct {
			id       string
			start    func(ctx context.Context, id, email string) error
			verified bool
		}{
			{"open-join", st.StartSession, false},
			{"emailed-link", st.StartVerifiedSession, true},
		}
		for _, tt := range tests {
			if err := tt.start(ctx, tt.id, "ann@example.com"); err != nil {
				t.Fatalf("%s: %v", tt.id, err)
			}
		}
		if err := st.StartVerifiedSession(ctx, "open-join", "eve@example.com"); err == nil {
			t.Error("a verified session took an id in use")
		}
		// Kept as they were, also through ending and a reopen.
		if err := st.EndSessionsOf(ctx, "ann@example.com"); err != nil {
			t.Fatal(err)
		}
		again := mustOpen(t, open).(sessionStore)
		for _, tt := range tests {
			got, err := again.Session(ctx, tt.id)
			if err != nil || got.Verified != tt.verified || got.Email != "ann@example.com" || !got.Ended() {
				t.Errorf("%s: %+v, %v; want verified %v", tt.id, got, err, tt.verified)
			}
		}
	})
}

// TestSessionsReadTogether reads and touches many sessions at once, as the
// pages reconnecting after a restart do (the store shares statements
// between them): each caller gets its own session, ended or not, a missing
// one is ErrNoSession, and every touch is written.
func TestSessionsReadTogether(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		ctx := t.Context()
		st := mustOpen(t, open).(sessionStore)
		const n = 300
		for i := range n {
			if err := st.StartSession(ctx, fmt.Sprint("s", i), fmt.Sprintf("p%d@example.com", i)); err != nil {
				t.Fatal(err)
			}
			if i%7 == 0 {
				if err := st.EndSession(ctx, fmt.Sprint("s", i)); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Touches are compared with the store's own clock (PostgreSQL's
		// may differ from this machine's).
		before := make([]time.Time, n)
		for i := range n {
			sess, err := st.Session(ctx, fmt.Sprint("s", i))
			if err != nil {
				t.Fatal(err)
			}
			before[i] = sess.LastSeen
		}
		time.Sleep(10 * time.Millisecond)
		var wg sync.WaitGroup
		for i := range 2 * n {
			wg.Go(func() {
				id := fmt.Sprint("s", i) // n..2n-1 do not exist
				sess, err := st.Session(ctx, id)
				switch {
				case i >= n:
					if !errors.Is(err, store.ErrNoSession) {
						t.Errorf("%s: %+v, %v; want ErrNoSession", id, sess, err)
					}
					return
				case err != nil:
					t.Errorf("%s: %v", id, err)
					return
				case sess.ID != id || sess.Email != fmt.Sprintf("p%d@example.com", i) || sess.Ended() != (i%7 == 0):
					t.Errorf("%s: got %+v", id, sess)
				}
				if err := st.TouchSession(ctx, id); err != nil {
					t.Errorf("touch %s: %v", id, err)
				}
			})
		}
		wg.Wait()
		for i := range n {
			sess, err := st.Session(ctx, fmt.Sprint("s", i))
			if err != nil || !sess.LastSeen.After(before[i]) {
				t.Errorf("s%d after its touch: last seen %v, before it %v, %v", i, sess.LastSeen, before[i], err)
			}
		}
	})
}
