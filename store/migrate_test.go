package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/store/storetest"
)

// everything is all the store does, on either backend.
type everything interface {
	authorStore
	sessionStore
	signInStore
	peopleStore
}

// TestMigrateFromBeforeSignIn opens a database as the build before sign-in
// by email left it (its migrations, 6 steps on SQLite and 7 on PostgreSQL),
// with messages and a session in it: they survive, nameless and unverified,
// keys still hold, and the new tables work.
func TestMigrateFromBeforeSignIn(t *testing.T) {
	tests := []struct {
		name string
		open func(t *testing.T) func() (everything, error)
	}{
		{"sqlite", func(t *testing.T) func() (everything, error) {
			path := storetest.SQLitePath(t)
			if err := store.MakeSQLiteAt(t.Context(), path, 6,
				`INSERT INTO messages (sender, content, created_at, send_key) VALUES ('ann@example.com', 'from before', 1700000000000000, 'k1')`,
				`INSERT INTO messages (sender, content, created_at) VALUES ('bob@example.com', 'no key', 1700000001000000)`,
				`INSERT INTO sessions (id, email, created_at, last_seen_at) VALUES ('old', 'ann@example.com', 1700000000000000, 1700000000000000)`,
			); err != nil {
				t.Fatal(err)
			}
			return func() (everything, error) { return store.OpenSQLite(t.Context(), path) }
		}},
		{"postgres", func(t *testing.T) func() (everything, error) {
			url := storetest.PostgresURL(t)
			if err := store.MakePostgresAt(t.Context(), url, 7,
				`INSERT INTO messages (sender, content, send_key) VALUES ('ann@example.com', 'from before', 'k1')`,
				`INSERT INTO messages (sender, content) VALUES ('bob@example.com', 'no key')`,
				`INSERT INTO sessions (id, email) VALUES ('old', 'ann@example.com')`,
			); err != nil {
				t.Fatal(err)
			}
			return func() (everything, error) { return store.OpenPostgres(t.Context(), url) }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			open := tt.open(t)
			ctx := t.Context()
			st, err := open()
			if err != nil {
				t.Fatalf("open a database from before: %v", err)
			}
			defer st.Close()

			old, err := st.MessagesAfter(ctx, 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(old) != 2 || old[0].Content != "from before" || old[1].Content != "no key" {
				t.Fatalf("messages from before: %+v", old)
			}
			for _, m := range old {
				if m.SenderName != "" || m.Verified {
					t.Errorf("message from before reads as by %q, verified %v", m.SenderName, m.Verified)
				}
			}
			if _, err := st.AddMessageOnce(ctx, "ann@example.com", "retry", "k1"); !errors.Is(err, store.ErrAlreadyStored) {
				t.Errorf("a key used before the migration: %v, want ErrAlreadyStored", err)
			}
			m, err := st.AddMessageAs(ctx, store.Author{Email: "ann@example.com", Name: "Ann", Verified: true}, "after", "k2")
			if err != nil || m.ID <= old[1].ID || m.SenderName != "Ann" || !m.Verified {
				t.Errorf("first message after: %+v, %v", m, err)
			}

			sess, err := st.Session(ctx, "old")
			if err != nil || sess.Email != "ann@example.com" || sess.Verified || sess.Ended() {
				t.Errorf("session from before: %+v, %v", sess, err)
			}
			if err := st.StartVerifiedSession(ctx, "new", "ann@example.com"); err != nil {
				t.Error(err)
			}
			if err := st.SetDisplayName(ctx, "ann@example.com", "Ann", "ann"); err != nil {
				t.Error(err)
			}
			if err := st.MarkVerified(ctx, "ann@example.com"); err != nil {
				t.Error(err)
			}
			tok := store.SignInToken{Hash: store.SignInTokenHash("t"), Email: "ann@example.com", ExpiresAt: time.Now().Add(time.Minute)}
			if err := st.CreateSignInToken(ctx, tok); err != nil {
				t.Error(err)
			}
			st.Close()

			// Opening again migrates nothing and keeps everything.
			again, err := open()
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer again.Close()
			if p, err := again.Person(ctx, "ann@example.com"); err != nil || p.Name != "Ann" || !p.Verified {
				t.Errorf("after reopen: %+v, %v", p, err)
			}
			if all, err := again.MessagesAfter(ctx, 0, 10); err != nil || len(all) != 3 || all[2].SenderName != "Ann" {
				t.Errorf("after reopen: %+v, %v", all, err)
			}
		})
	}
}
