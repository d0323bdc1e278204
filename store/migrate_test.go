package store_test

import (
	"errors"
	"slices"
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

// TestMigrateToRooms opens a database with history as the build before rooms
// left it (14 steps on SQLite, 15 on PostgreSQL): every message is now in
// general with its id unchanged, a key used before still holds in any room,
// and new rooms start at id 2.
func TestMigrateToRooms(t *testing.T) {
	tests := []struct {
		name string
		// open makes the old database and returns how to open it now,
		// and the ids its messages have.
		open func(t *testing.T) (func() (roomStore, error), []int64)
	}{
		{"sqlite", func(t *testing.T) (func() (roomStore, error), []int64) {
			path := storetest.SQLitePath(t)
			// Ids with gaps, as deletions by hand would leave them.
			if err := store.MakeSQLiteAt(t.Context(), path, 14,
				`INSERT INTO messages (id, sender, content, created_at, send_key) VALUES (3, 'ann@example.com', 'one', 1700000000000000, 'k1')`,
				`INSERT INTO messages (id, sender, content, created_at, sender_name, verified) VALUES (7, 'bob@example.com', 'two', 1700000001000000, 'Bob', 1)`,
				`INSERT INTO messages (id, sender, content, created_at) VALUES (8, 'ann@example.com', 'three', 1700000002000000)`,
			); err != nil {
				t.Fatal(err)
			}
			return func() (roomStore, error) { return store.OpenSQLite(t.Context(), path) }, []int64{3, 7, 8}
		}},
		{"postgres", func(t *testing.T) (func() (roomStore, error), []int64) {
			url := storetest.PostgresURL(t)
			if err := store.MakePostgresAt(t.Context(), url, 15,
				`INSERT INTO messages (sender, content, send_key) VALUES ('ann@example.com', 'one', 'k1')`,
				`INSERT INTO messages (sender, content) VALUES ('eve@example.com', 'deleted')`,
				`INSERT INTO messages (sender, content, sender_name, verified) VALUES ('bob@example.com', 'two', 'Bob', true)`,
				`INSERT INTO messages (sender, content) VALUES ('ann@example.com', 'three')`,
				`DELETE FROM messages WHERE content = 'deleted'`,
			); err != nil {
				t.Fatal(err)
			}
			return func() (roomStore, error) { return store.OpenPostgres(t.Context(), url) }, []int64{1, 3, 4}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			open, oldIDs := tt.open(t)
			ctx := t.Context()
			st, err := open()
			if err != nil {
				t.Fatalf("open a database from before rooms: %v", err)
			}
			defer st.Close()

			checkOld := func(where string, got []store.Message, err error) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", where, err)
				}
				if !slices.Equal(idsOf(got), oldIDs) {
					t.Fatalf("%s: ids %v, want %v", where, idsOf(got), oldIDs)
				}
				for i, m := range got {
					if m.RoomID != store.GeneralID || m.Content != []string{"one", "two", "three"}[i] {
						t.Errorf("%s: message %d = %q in room %d; want %q in general", where, m.ID, m.Content, m.RoomID, []string{"one", "two", "three"}[i])
					}
				}
				if got[1].SenderName != "Bob" || !got[1].Verified {
					t.Errorf("%s: bob's message lost its author: %+v", where, got[1])
				}
			}
			got, err := st.MessagesAfter(ctx, 0, 10)
			checkOld("MessagesAfter", got, err)
			got, err = st.RoomRecentMessages(ctx, store.GeneralID, 10)
			checkOld("RoomRecentMessages(general)", got, err)
			got, err = st.RoomMessagesAfter(ctx, store.GeneralID, 0, 10)
			checkOld("RoomMessagesAfter(general)", got, err)

			if g, err := st.Room(ctx, store.GeneralSlug); err != nil || g.ID != store.GeneralID || g.Kind != store.RoomOpen || g.Name != "general" {
				t.Errorf("general after the migration: %+v, %v", g, err)
			}
			if rooms, err := st.RoomsOf(ctx, bob); err != nil || len(rooms) != 1 || rooms[0].ID != store.GeneralID || rooms[0].Unread != 2 {
				t.Errorf("bob's rooms after the migration: %+v, %v; want general with ann's 2 unread", rooms, err)
			}
			r, err := st.CreateRoom(ctx, store.Room{Slug: "new", Name: "new", Kind: store.RoomOpen, CreatedBy: ann}, nil)
			if err != nil || r.ID != 2 {
				t.Errorf("first room after the migration: %+v, %v; want id 2", r, err)
			}
			if dm, err := st.DirectRoom(ctx, ann, bob); err != nil || dm.ID != 3 {
				t.Errorf("first direct room: %+v, %v; want id 3", dm, err)
			}
			if _, err := st.AddMessageIn(ctx, r.ID, store.Author{Email: ann}, "retry", "k1"); !errors.Is(err, store.ErrAlreadyStored) {
				t.Errorf("a key used before rooms, in a room: %v, want ErrAlreadyStored", err)
			}
			m, err := st.AddMessageIn(ctx, r.ID, store.Author{Email: ann}, "in new", "k2")
			if err != nil || m.ID <= oldIDs[2] || m.RoomID != r.ID {
				t.Errorf("first message in a room: %+v, %v", m, err)
			}
			st.Close()

			// Opening again migrates nothing: general is not made twice.
			again, err := open()
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer again.Close()
			if listed, err := again.OpenRooms(ctx, 10); err != nil || len(listed) != 2 || listed[0].ID != store.GeneralID || listed[1].ID != r.ID {
				t.Errorf("open rooms after reopen: %+v, %v", listed, err)
			}
			if got, err := again.RoomMessagesAfter(ctx, r.ID, 0, 10); err != nil || len(got) != 1 || got[0].ID != m.ID {
				t.Errorf("the room's messages after reopen: %+v, %v", got, err)
			}
		})
	}
}
