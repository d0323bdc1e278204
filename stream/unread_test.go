package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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
		Rooms: func(ctx context.Context, emails []string) (map[string][]store.RoomState, error) {
			mu.Lock()
			for _, email := range emails {
				read[email] = time.Now()
			}
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

// readUnderWay starts a read of Bob's rooms (a verified sign-in's reader,
// with a stream in general) and returns once the store is asked: what is
// published until answer is published while the read runs. answer gives
// the read its rooms and waits for it to end; load is the read's.
func readUnderWay(t *testing.T) (rs *readers, bob *reader, load int, answer func([]store.RoomState)) {
	asked, answers := make(chan struct{}), make(chan []store.RoomState)
	rs = newReaders(Config{
		Logger: slog.New(slog.DiscardHandler),
		Rooms: func(ctx context.Context, emails []string) (map[string][]store.RoomState, error) {
			close(asked)
			return map[string][]store.RoomState{emails[0]: <-answers}, nil
		},
	})
	rs.private = true
	rs.add(&Stream{req: Request{Email: "bob@example.com"}, room: &room{id: store.GeneralID}})
	rs.mu.Lock()
	bob = rs.people["bob@example.com"]
	load = bob.loads
	rs.mu.Unlock()
	read := make(chan struct{})
	go func() { defer close(read); rs.read(t.Context(), []readerLoad{{r: bob, load: load}}) }()
	<-asked
	return rs, bob, load, func(states []store.RoomState) {
		answers <- states
		<-read
	}
}

// TestUnreadCountsWhatTheReadMissed: messages published while a reader's
// rooms are read are counted if the read did not (their id is past the
// room's newest as it counted), and a message the read counted is not
// counted again when it is published after (another instance's, late).
func TestUnreadCountsWhatTheReadMissed(t *testing.T) {
	t.Parallel()
	const ops = 2
	rs, bob, _, answer := readUnderWay(t)
	// The read counted ops up to message 10, which had 3 unread; 11 and
	// 12 are published while it runs (12 is Bob's own).
	rs.message(store.Message{ID: 11, RoomID: ops, Sender: "ann@example.com"})
	rs.message(store.Message{ID: 12, RoomID: ops, Sender: "bob@example.com"})
	answer([]store.RoomState{
		{Room: store.Room{ID: store.GeneralID}},
		{Room: store.Room{ID: ops}, Unread: 3, Newest: 10},
	})
	unread := func() int {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		for _, c := range bob.counts {
			if c.room == ops {
				return c.n
			}
		}
		t.Fatal("no count for ops")
		return 0
	}
	if got := unread(); got != 4 {
		t.Fatalf("after the read: %d unread in ops, want 4 (3 counted, 11 published meanwhile)", got)
	}
	rs.message(store.Message{ID: 9, RoomID: ops, Sender: "ann@example.com"}) // counted by the read already
	if got := unread(); got != 4 {
		t.Errorf("message 9 published after a read that counted it: %d unread, want 4", got)
	}
	rs.message(store.Message{ID: 13, RoomID: ops, Sender: "ann@example.com"})
	if got := unread(); got != 5 {
		t.Errorf("after message 13: %d unread, want 5", got)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(rs.loading) != 0 || rs.seen != nil {
		t.Errorf("after the read: %d readers loading, %d messages still noted", len(rs.loading), len(rs.seen))
	}
}

// TestCrowdsRoomsReadTogether: when many people's streams open at once (a
// restart, when nobody has been read yet), their rooms are read a batch at
// a time, not one read each, and each person gets their own rooms from it.
func TestCrowdsRoomsReadTogether(t *testing.T) {
	t.Parallel()
	const people = 3*roomsBatch + 10
	var mu sync.Mutex
	var sizes []int
	first := make(chan struct{})
	rs := newReaders(Config{
		Logger: slog.New(slog.DiscardHandler),
		Rooms: func(ctx context.Context, emails []string) (map[string][]store.RoomState, error) {
			mu.Lock()
			sizes = append(sizes, len(emails))
			mu.Unlock()
			<-first // the crowd queues behind the first reads
			rooms := map[string][]store.RoomState{}
			for _, email := range emails {
				// Each person has as many unread in general as their number.
				var i int
				fmt.Sscanf(email, "p%d@", &i)
				rooms[email] = []store.RoomState{{Room: store.Room{ID: store.GeneralID, Kind: store.RoomOpen}, Unread: i % store.MaxUnread}}
			}
			return rooms, nil
		},
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go rs.run(ctx)
	general := &room{id: store.GeneralID}
	for i := range people {
		rs.add(&Stream{req: Request{Email: fmt.Sprintf("p%d@example.com", i)}, room: general})
	}
	close(first)
	counted := func() (n int) {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		for _, r := range rs.people {
			if r.counts != nil {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(5 * time.Second); counted() < people; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d people's rooms read after 5 s", counted(), people)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	// The first reads may take few (the crowd was still arriving); the
	// rest wait and go in batches.
	if max := maxRoomsReads + (people+roomsBatch-1)/roomsBatch; len(sizes) > max {
		t.Errorf("%d people read in %d reads (the first: %v), want at most %d", people, len(sizes), sizes[:min(len(sizes), 10)], max)
	}
	for _, n := range sizes {
		if n > roomsBatch {
			t.Errorf("a read of %d people, more than roomsBatch (%d)", n, roomsBatch)
		}
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for email, r := range rs.people {
		var i int
		fmt.Sscanf(email, "p%d@", &i)
		if len(r.counts) != 1 || r.counts[0].n != i%store.MaxUnread {
			t.Fatalf("%s's counts: %+v, want %d unread in general", email, r.counts, i%store.MaxUnread)
		}
	}
}

// TestFailedRoomsReadIsTriedAgain: when the read of people's rooms fails
// (a database hiccup), their sidebars are not left without counts: the
// read is tried again, and their counts come once it works.
func TestFailedRoomsReadIsTriedAgain(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	calls := 0
	rs := newReaders(Config{
		Logger: slog.New(slog.DiscardHandler),
		Rooms: func(ctx context.Context, emails []string) (map[string][]store.RoomState, error) {
			mu.Lock()
			defer mu.Unlock()
			if calls++; calls == 1 {
				return nil, errors.New("the database is restarting")
			}
			rooms := map[string][]store.RoomState{}
			for _, email := range emails {
				rooms[email] = []store.RoomState{{Room: store.Room{ID: store.GeneralID, Kind: store.RoomOpen}, Unread: 7}}
			}
			return rooms, nil
		},
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go rs.run(ctx)
	rs.add(&Stream{req: Request{Email: "bob@example.com"}, room: &room{id: store.GeneralID}})
	counts := func() []roomCount {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		return slices.Clone(rs.people["bob@example.com"].counts)
	}
	for deadline := time.Now().Add(5 * time.Second); counts() == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("no counts 5 s after the first read failed (%d reads)", calls)
		}
	}
	if c := counts(); len(c) != 1 || c[0].n != 7 {
		t.Errorf("counts %+v, want 7 unread in general", c)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(rs.loading) != 0 {
		t.Errorf("%d readers still loading", len(rs.loading))
	}
}

// TestReadAgainWhenTooMuchWasPublished: past maxSeen messages published
// while a read is under way, the older ones are forgotten; the read then
// cannot tell what it missed, so it reads again if one of them could be
// past what it counted, and not if all of them came before.
func TestReadAgainWhenTooMuchWasPublished(t *testing.T) {
	t.Parallel()
	const ops = 2
	for _, tt := range []struct {
		name   string
		newest int64 // ops' newest id as the read counted it
		again  bool
	}{
		{"forgotten messages past what it counted", 50, true},
		{"all of them before what it counted", 1 << 40, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rs, bob, load, answer := readUnderWay(t)
			for id := range int64(maxSeen + 10) {
				rs.message(store.Message{ID: 100 + id, RoomID: ops, Sender: "ann@example.com"})
			}
			answer([]store.RoomState{{Room: store.Room{ID: store.GeneralID}}, {Room: store.Room{ID: ops}, Newest: tt.newest}})
			rs.mu.Lock()
			defer rs.mu.Unlock()
			if again := bob.loads > load; again != tt.again {
				t.Errorf("read again: %v, want %v", again, tt.again)
			}
			if len(rs.seen) != 0 {
				t.Errorf("%d messages still noted after the last read", len(rs.seen))
			}
		})
	}
}

// BenchmarkUnreadMessageWhileReading is one message published while two
// batches of people's rooms (512 readers) are being read, which a crowd's
// reads after a restart are: what it costs under the readers' lock.
func BenchmarkUnreadMessageWhileReading(b *testing.B) {
	rs := newReaders(Config{
		Logger: slog.New(slog.DiscardHandler),
		Rooms:  func(context.Context, []string) (map[string][]store.RoomState, error) { return nil, nil },
	})
	for i := range 2 * roomsBatch {
		rs.loading[&reader{email: fmt.Sprintf("p%d@example.com", i)}] = 1
	}
	var id int64
	for b.Loop() {
		id++
		rs.message(store.Message{ID: id, RoomID: 2, Sender: "ann@example.com"})
	}
}
