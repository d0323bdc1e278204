package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/store"
)

// authorStore is what both backends offer for messages kept with how their
// sender was shown.
type authorStore interface {
	backend
	AddMessageAs(ctx context.Context, a store.Author, content, key string) (store.Message, error)
	Follow(ctx context.Context, afterID int64, deliver func(store.Message)) error
}

var (
	_ authorStore = (*store.SQLite)(nil)
	_ authorStore = (*store.Postgres)(nil)
)

const (
	ann = "ann@example.com"
	bob = "bob@example.com"
)

// authored is one message to add, how, and how it must read back.
type authored struct {
	add        func(b authorStore) (store.Message, error)
	content    string
	name       string
	verified   bool
	alreadyYet bool // the add must fail with ErrAlreadyStored
}

func authoredMessages() []authored {
	as := func(a store.Author, content, key string) func(authorStore) (store.Message, error) {
		return func(b authorStore) (store.Message, error) {
			return b.AddMessageAs(context.Background(), a, content, key)
		}
	}
	return []authored{
		{add: as(store.Author{Email: ann, Name: "Ann Lee", Verified: true}, "named and verified", "k1"),
			content: "named and verified", name: "Ann Lee", verified: true},
		{add: as(store.Author{Email: bob, Verified: true}, "verified, no name", ""),
			content: "verified, no name", verified: true},
		{add: as(store.Author{Email: bob, Name: "Bob"}, "named, open join", ""),
			content: "named, open join", name: "Bob"},
		{add: func(b authorStore) (store.Message, error) { return b.AddMessage(context.Background(), ann, "plain") },
			content: "plain"},
		{add: func(b authorStore) (store.Message, error) {
			return b.AddMessageOnce(context.Background(), ann, "once", "k2")
		}, content: "once"},
		// A key is the sender's whatever name they go by.
		{add: as(store.Author{Email: ann, Name: "Someone Else"}, "retry under a new name", "k1"), alreadyYet: true},
		{add: as(store.Author{Email: ann, Name: "Ann Lee", Verified: true}, "same again", "k2"), alreadyYet: true},
		{add: as(store.Author{Email: ann, Name: "Ann Lee", Verified: true}, "renamed later", "k3"),
			content: "renamed later", name: "Ann Lee", verified: true},
	}
}

func checkAuthored(t *testing.T, where string, got []store.Message, want []authored) {
	t.Helper()
	var stored []authored
	for _, w := range want {
		if !w.alreadyYet {
			stored = append(stored, w)
		}
	}
	if len(got) != len(stored) {
		t.Fatalf("%s: %d messages, want %d", where, len(got), len(stored))
	}
	for i, m := range got {
		w := stored[i]
		if m.Content != w.content || m.SenderName != w.name || m.Verified != w.verified {
			t.Errorf("%s: message %d = %q by %q verified %v; want %q by %q verified %v",
				where, m.ID, m.Content, m.SenderName, m.Verified, w.content, w.name, w.verified)
		}
	}
}

// TestMessagesKeepTheirAuthor stores messages with and without a name and a
// mark, and reads them back every way there is: the add's answer, each
// read, and a follower (both what it catches up on and what it is handed
// live).
func TestMessagesKeepTheirAuthor(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		ctx := t.Context()
		b := mustOpen(t, open).(authorStore)
		// A follower on another handle, as another instance would follow
		// PostgreSQL; SQLite's has to be this one (its writer hands over).
		follower := b
		if _, ok := b.(*store.Postgres); ok {
			follower = mustOpen(t, open).(authorStore)
		}
		want := authoredMessages()
		half := len(want) / 2

		var added []store.Message
		add := func(ws []authored) {
			for _, w := range ws {
				m, err := w.add(b)
				if w.alreadyYet {
					if !errors.Is(err, store.ErrAlreadyStored) {
						t.Errorf("%q: %v, want ErrAlreadyStored", w.content, err)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				added = append(added, m)
			}
		}
		add(want[:half])

		followed := make(chan store.Message, 100)
		followCtx, stop := context.WithCancel(ctx)
		defer stop()
		go follower.Follow(followCtx, 0, func(m store.Message) { followed <- m })
		var got []store.Message
		receive := func() {
			t.Helper()
			for len(got) < len(added) {
				select {
				case m := <-followed:
					got = append(got, m)
				case <-time.After(5 * time.Second):
					t.Fatalf("followed %d of %d messages", len(got), len(added))
				}
			}
		}
		// The first half is caught up on; the second is handed over live.
		receive()
		add(want[half:])
		receive()
		checkAuthored(t, "as added", added, want)
		checkAuthored(t, "Follow", got, want)

		reads := []struct {
			name string
			read func() ([]store.Message, error)
		}{
			{"MessagesAfter", func() ([]store.Message, error) { return b.MessagesAfter(ctx, 0, 100) }},
			{"RecentMessages", func() ([]store.Message, error) { return b.RecentMessages(ctx, 100) }},
			{"MessagesBefore", func() ([]store.Message, error) { return b.MessagesBefore(ctx, added[len(added)-1].ID+1, 100) }},
			{"Message", func() ([]store.Message, error) {
				var ms []store.Message
				for _, a := range added {
					m, err := b.Message(ctx, a.ID)
					if err != nil {
						return nil, err
					}
					ms = append(ms, m)
				}
				return ms, nil
			}},
		}
		for _, r := range reads {
			ms, err := r.read()
			if err != nil {
				t.Fatalf("%s: %v", r.name, err)
			}
			checkAuthored(t, r.name, ms, want)
		}
	})
}
