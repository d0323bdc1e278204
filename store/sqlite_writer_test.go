package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/store/storetest"
)

// TestSQLiteFollowSeesEveryCommitOnceInOrder follows from the middle of the
// history while 16 posters add messages at once (so commits are grouped):
// the follower must get the old ones after its start, then every new one,
// exactly once, in id order.
func TestSQLiteFollowSeesEveryCommitOnceInOrder(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := store.OpenSQLite(ctx, storetest.SQLitePath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := range 10 {
		if _, err := st.AddMessage(ctx, "old@example.com", fmt.Sprint("old ", i)); err != nil {
			t.Fatal(err)
		}
	}

	got := make(chan store.Message, 10000)
	followed := make(chan error, 1)
	go func() { followed <- st.Follow(ctx, 4, func(m store.Message) { got <- m }) }()

	const posters, each = 16, 50
	var wg sync.WaitGroup
	acked := make(chan int64, posters*each)
	for p := range posters {
		wg.Go(func() {
			for i := range each {
				m, err := st.AddMessage(ctx, "new@example.com", fmt.Sprintf("p%d-%d", p, i))
				if err != nil {
					t.Error(err)
					return
				}
				acked <- m.ID
			}
		})
	}
	wg.Wait()
	close(acked)

	want := int64(5)
	deadline := time.After(5 * time.Second)
	for want <= 10+posters*each {
		select {
		case m := <-got:
			if m.ID != want {
				t.Fatalf("follower got message %d, want %d", m.ID, want)
			}
			want++
		case <-deadline:
			t.Fatalf("follower stopped at %d of %d", want-1, 10+posters*each)
		}
	}
	select {
	case m := <-got:
		t.Fatalf("extra delivery %+v", m)
	case <-time.After(50 * time.Millisecond):
	}
	n := 0
	for range acked {
		n++
	}
	if n != posters*each {
		t.Fatalf("%d posts acknowledged, want %d", n, posters*each)
	}

	if err := st.Follow(ctx, 0, func(store.Message) {}); err == nil {
		t.Error("a second follower was accepted")
	}
	st.Close()
	if err := <-followed; err != nil {
		t.Errorf("Follow after Close: %v", err)
	}
	if _, err := st.AddMessage(ctx, "late@example.com", "x"); err == nil {
		t.Error("AddMessage after Close succeeded")
	}
}

// TestSQLiteFollowSeesAnotherProcess opens one database file twice, as the
// old and the new process share it during a restart: the old one may still
// commit the posts it had taken after the new one has started following.
// The new one's follower must deliver those too, exactly once and in id
// order with its own: when it is idle (it looks now and then), and when its
// own commit comes right after (the gap before it shows).
func TestSQLiteFollowSeesAnotherProcess(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	path := storetest.SQLitePath(t)
	newer, err := store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer newer.Close()
	older, err := store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer older.Close()

	got := make(chan store.Message, 1000)
	go newer.Follow(ctx, 0, func(m store.Message) { got <- m })
	receive := func(want ...int64) {
		t.Helper()
		for _, id := range want {
			select {
			case m := <-got:
				if m.ID != id {
					t.Fatalf("follower got message %d, want %d", m.ID, id)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("follower did not get message %d", id)
			}
		}
	}
	add := func(st *store.SQLite, text string) int64 {
		t.Helper()
		m, err := st.AddMessage(ctx, "ann@example.com", text)
		if err != nil {
			t.Fatal(err)
		}
		return m.ID
	}

	// The other process alone: found by looking.
	a := add(older, "from the old process")
	receive(a)
	// The other's just before this process's own: the gap shows at once,
	// in order.
	b := add(older, "the old process's last")
	c := add(newer, "the new process's first")
	receive(b, c)
	// Interleaved, from both at once.
	var wg sync.WaitGroup
	ids := make(chan int64, 100)
	for _, st := range []*store.SQLite{older, newer} {
		wg.Go(func() {
			for i := range 25 {
				ids <- add(st, fmt.Sprint("both ", i))
			}
		})
	}
	wg.Wait()
	close(ids)
	last := c
	for range ids {
		last++
		receive(last)
	}
	select {
	case m := <-got:
		t.Fatalf("extra delivery %+v", m)
	case <-time.After(500 * time.Millisecond): // longer than the follower's look
	}
}
