package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/store/storetest"
)

func testAddMessageOnce(t *testing.T, open opener) {
	b := mustOpen(t, open)
	ctx := t.Context()
	first, err := b.AddMessageOnce(ctx, "ann@example.com", "hello", "k1")
	if err != nil {
		t.Fatal(err)
	}
	// The same key again, even with other text: nothing new.
	for _, text := range []string{"hello", "hello again"} {
		if _, err := b.AddMessageOnce(ctx, "ann@example.com", text, "k1"); !errors.Is(err, store.ErrAlreadyStored) {
			t.Fatalf("second add with key k1: err %v, want ErrAlreadyStored", err)
		}
	}
	// Keys are per sender; no key means no check.
	if _, err := b.AddMessageOnce(ctx, "bob@example.com", "hello", "k1"); err != nil {
		t.Fatalf("bob with ann's key: %v", err)
	}
	for range 2 {
		if _, err := b.AddMessageOnce(ctx, "ann@example.com", "no key", ""); err != nil {
			t.Fatalf("no key: %v", err)
		}
		if _, err := b.AddMessage(ctx, "ann@example.com", "plain"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.AddMessageOnce(ctx, "ann@example.com", "long", strings.Repeat("k", store.MaxKeyLength+1)); err == nil {
		t.Error("a key over MaxKeyLength was accepted")
	}
	next, err := b.AddMessageOnce(ctx, "ann@example.com", "later", "k2")
	if err != nil {
		t.Fatal(err)
	}
	if next.ID <= first.ID {
		t.Errorf("ids %d then %d", first.ID, next.ID)
	}
	all, err := b.MessagesAfter(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range all {
		got = append(got, m.Sender[:3]+":"+m.Content)
	}
	want := "ann:hello bob:hello ann:no key ann:plain ann:no key ann:plain ann:later"
	if strings.Join(got, " ") != want {
		t.Errorf("stored %q\nwant   %q", strings.Join(got, " "), want)
	}
}

// testConcurrentAddsOnce sends each message several times at once, as a
// client retrying in a hurry might: the copies land in one group commit or
// in several, and exactly one is stored either way.
func testConcurrentAddsOnce(t *testing.T, open opener) {
	b := mustOpen(t, open)
	ctx := t.Context()
	const messages, copies = 40, 4
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored := map[string]int{}
	for i := range messages {
		for range copies {
			wg.Go(func() {
				key := fmt.Sprintf("key-%d", i)
				_, err := b.AddMessageOnce(ctx, "ann@example.com", key, key)
				if err != nil && !errors.Is(err, store.ErrAlreadyStored) {
					t.Error(err)
					return
				}
				if err == nil {
					mu.Lock()
					stored[key]++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	all, err := b.MessagesAfter(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != messages || len(stored) != messages {
		t.Fatalf("%d stored, %d reported stored, want %d", len(all), len(stored), messages)
	}
	for key, n := range stored {
		if n != 1 {
			t.Errorf("%s reported stored %d times", key, n)
		}
	}
}

// TestSQLiteMigratesOldDatabase opens a database made by the first schema,
// with a message in it: the message stays and keys work.
func TestSQLiteMigratesOldDatabase(t *testing.T) {
	path := storetest.SQLitePath(t)
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, sender TEXT NOT NULL, content TEXT NOT NULL, created_at INTEGER NOT NULL)`,
		`INSERT INTO messages (sender, content, created_at) VALUES ('ann@example.com', 'from before', 0)`,
		`PRAGMA user_version = 1`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := store.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 2 {
		if _, err := s.AddMessageOnce(t.Context(), "ann@example.com", "after", "k"); err != nil && !errors.Is(err, store.ErrAlreadyStored) {
			t.Fatal(err)
		}
	}
	all, err := s.MessagesAfter(t.Context(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Content != "from before" || all[1].Content != "after" {
		t.Errorf("after migration: %+v", all)
	}
}
