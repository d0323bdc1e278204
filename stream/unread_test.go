package stream

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/store"
)

// TestReconnectedPagesRoomsReadAfterTheCrowd: while a crowd of streams is
// opening (a restart), the rooms of a page that reconnected (its sidebar
// is on screen) are read only once the crowd has passed, and a first
// connect's at once.
func TestReconnectedPagesRoomsReadAfterTheCrowd(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	read := map[string]time.Time{}
	rs := newReaders(Config{
		Logger: slog.New(slog.DiscardHandler),
		Rooms: func(ctx context.Context, email string) ([]store.RoomState, error) {
			mu.Lock()
			read[email] = time.Now()
			mu.Unlock()
			return nil, nil
		},
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go rs.run(ctx)
	readAt := func(email string) time.Time {
		mu.Lock()
		defer mu.Unlock()
		return read[email]
	}

	// A crowd: more than crowdOpens streams open every tick.
	crowdGone := make(chan struct{})
	go func() {
		for {
			select {
			case <-crowdGone:
				return
			case <-time.After(sidebarTick / 5):
				rs.opens.Add(crowdOpens)
			}
		}
	}()
	for !rs.crowded.Load() {
		time.Sleep(10 * time.Millisecond)
	}
	general := &room{id: store.GeneralID}
	rs.add(&Stream{req: Request{Email: "bob@example.com", Reconnected: true}, room: general})
	rs.add(&Stream{req: Request{Email: "ann@example.com"}, room: general})
	for deadline := time.Now().Add(5 * time.Second); readAt("ann@example.com").IsZero(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a first connect's rooms were not read during the crowd")
		}
	}
	time.Sleep(3 * sidebarTick)
	if !readAt("bob@example.com").IsZero() {
		t.Fatal("a reconnected page's rooms were read while the crowd was still opening streams")
	}
	close(crowdGone)
	for deadline := time.Now().Add(5 * time.Second); readAt("bob@example.com").IsZero(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a reconnected page's rooms were not read after the crowd")
		}
	}
}
