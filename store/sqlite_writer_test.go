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
