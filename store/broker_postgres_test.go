package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/store/storetest"
)

// openPostgres opens one instance on url, closed at test cleanup.
func openPostgres(t *testing.T, url string) *store.Postgres {
	t.Helper()
	p, err := store.OpenPostgres(t.Context(), url)
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// following is one running Follow call.
type following struct {
	messages chan store.Message
	cancel   context.CancelFunc
	done     chan error // receives Follow's result, once
}

// startFollow runs p.Follow in the background until the test ends.
func startFollow(t *testing.T, p *store.Postgres, afterID int64) *following {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	// Large enough that Follow never waits on the test to read.
	f := &following{messages: make(chan store.Message, 1000), cancel: cancel, done: make(chan error, 1)}
	go func() { f.done <- p.Follow(ctx, afterID, func(m store.Message) { f.messages <- m }) }()
	t.Cleanup(cancel)
	return f
}

// receive waits for n messages, failing the test if they take longer than
// within in all.
func (f *following) receive(t *testing.T, n int, within time.Duration) []store.Message {
	t.Helper()
	deadline := time.After(within)
	var got []store.Message
	for len(got) < n {
		select {
		case m := <-f.messages:
			got = append(got, m)
		case <-deadline:
			t.Fatalf("received %d of %d messages within %v: ids %v", len(got), n, within, idsOf(got))
		}
	}
	return got
}

// expectNothing fails the test if any message arrives within d.
func (f *following) expectNothing(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case m := <-f.messages:
		t.Errorf("unexpected message %d (%q)", m.ID, m.Content)
	case <-time.After(d):
	}
}

func TestFollowDeliversFromAnotherInstance(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	follower, poster := openPostgres(t, url), openPostgres(t, url)
	f := startFollow(t, follower, 0)

	// The first message may arrive by the initial read; once it has, Follow
	// is listening, so the second can only arrive by notification.
	for _, content := range []string{"first", "second"} {
		m, err := poster.AddMessage(t.Context(), "bob@example.com", content)
		if err != nil {
			t.Fatalf("AddMessage: %v", err)
		}
		start := time.Now()
		got := f.receive(t, 1, time.Second)[0]
		if got.ID != m.ID || got.Content != content {
			t.Fatalf("received %+v, want %+v", got, m)
		}
		t.Logf("%s delivered after %v", content, time.Since(start))
	}
	f.expectNothing(t, 200*time.Millisecond)
}

func TestFollowStartsAfterTheGivenID(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	a, b := openPostgres(t, url), openPostgres(t, url)
	ids := addN(t, a, 10)

	f := startFollow(t, b, ids[4])
	if got := idsOf(f.receive(t, 5, 2*time.Second)); !slices.Equal(got, ids[5:]) {
		t.Fatalf("caught up with ids %v, want %v", got, ids[5:])
	}
	f.expectNothing(t, 200*time.Millisecond)

	next := addN(t, a, 1)[0]
	if got := f.receive(t, 1, time.Second)[0].ID; got != next {
		t.Errorf("then received id %d, want %d", got, next)
	}
	f.expectNothing(t, 200*time.Millisecond)
}

// TestFollowSurvivesTerminatedConnection cuts the follower's connection
// several times while another instance posts, and expects every message
// exactly once, in order.
func TestFollowSurvivesTerminatedConnection(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	follower, poster := openPostgres(t, url), openPostgres(t, url)
	admin, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect admin: %v", err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })

	f := startFollow(t, follower, 0)

	const total = 200
	var posted atomic.Int64
	var ids []int64
	postErr := make(chan error, 1)
	go func() {
		defer close(postErr)
		for i := range total {
			m, err := poster.AddMessage(t.Context(), "bob@example.com", fmt.Sprint(i))
			if err != nil {
				postErr <- err
				return
			}
			ids = append(ids, m.ID) // read only after postErr closes
			posted.Add(1)
			time.Sleep(3 * time.Millisecond) // spread posts over the cuts
		}
	}()

	// Cut at fixed points in the stream, so each cut lands mid-way and the
	// follower must catch up on what was posted while it was away.
	cuts := 0
	for _, at := range []int64{30, 80, 130} {
		for posted.Load() < at {
			time.Sleep(time.Millisecond)
		}
		cuts += terminateFollower(t, admin, follower.FollowerName())
	}
	if cuts != 3 {
		t.Errorf("terminated %d follower connections, want 3", cuts)
	}

	if err := <-postErr; err != nil {
		t.Fatalf("AddMessage: %v", err)
	}
	got := idsOf(f.receive(t, total, 15*time.Second))
	if !slices.Equal(got, ids) {
		t.Fatalf("received ids %v\nwant %v", got, ids)
	}

	// Post only while the follower is away (it waits at least 25ms before
	// reconnecting) and never again: nothing but the catch-up read after
	// reconnecting can deliver these.
	terminateFollower(t, admin, follower.FollowerName())
	late := addN(t, poster, 5)
	if got := idsOf(f.receive(t, len(late), 5*time.Second)); !slices.Equal(got, late) {
		t.Errorf("after the last cut received ids %v, want %v", got, late)
	}
	f.expectNothing(t, 300*time.Millisecond)
}

// terminateFollower waits until the named follower has a connection, then
// terminates it, and reports how many backends it terminated.
func terminateFollower(t *testing.T, admin *pgx.Conn, name string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		err := admin.QueryRow(t.Context(), `
			SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
			FROM pg_stat_activity
			WHERE application_name = $1 AND datname = current_database()`, name).Scan(&n)
		if err != nil {
			t.Fatalf("terminate follower: %v", err)
		}
		if n > 0 {
			return n
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("follower %s never reconnected", name)
	return 0
}

func TestFollowStops(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		stop    func(f *following, p *store.Postgres)
		wantErr error
	}{
		{"context cancelled", func(f *following, _ *store.Postgres) { f.cancel() }, context.Canceled},
		{"store closed", func(_ *following, p *store.Postgres) { p.Close() }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := openPostgres(t, storetest.PostgresURL(t))
			f := startFollow(t, p, 0)
			addN(t, p, 1)
			f.receive(t, 1, time.Second) // Follow is up and listening

			tt.stop(f, p)
			select {
			case err := <-f.done:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Follow returned %v, want %v", err, tt.wantErr)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("Follow did not return")
			}
		})
	}
}

// TestFollowerNamesDiffer checks that two instances' followers can be told
// apart, which the cut test relies on when tests share a database.
func TestFollowerNamesDiffer(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	a, b := openPostgres(t, url).FollowerName(), openPostgres(t, url).FollowerName()
	if a == "" || a == b {
		t.Errorf("follower names %q and %q: want distinct and non-empty", a, b)
	}
}

// TestFollowUnderConcurrentPosts posts from many goroutines through two
// instances at once. Ids are handed out before commit, so unless commits are
// kept in id order a follower can read id n+1 before id n is visible and then
// skip n for good.
func TestFollowUnderConcurrentPosts(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	instances := []*store.Postgres{openPostgres(t, url), openPostgres(t, url)}
	f := startFollow(t, openPostgres(t, url), 0)

	const posters, each = 16, 20
	var wg sync.WaitGroup
	for p := range posters {
		wg.Go(func() {
			for i := range each {
				if _, err := instances[p%2].AddMessage(t.Context(), "ann@example.com", fmt.Sprint(p, i)); err != nil {
					t.Errorf("AddMessage: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()

	want, err := instances[0].MessagesAfter(t.Context(), 0, posters*each+1)
	if err != nil {
		t.Fatalf("MessagesAfter: %v", err)
	}
	if len(want) != posters*each {
		t.Fatalf("stored %d messages, want %d", len(want), posters*each)
	}
	if got := idsOf(f.receive(t, len(want), 5*time.Second)); !slices.Equal(got, idsOf(want)) {
		t.Errorf("received ids %v\nwant %v", got, idsOf(want))
	}
}
