package presence_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/presence"
	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/store/storetest"
)

// recorder collects what a roster reports.
type recorder struct {
	mu      sync.Mutex
	changes []presence.Change
}

func (r *recorder) record(c presence.Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, c)
}

// wait returns the changes once there are n, failing after a while.
func (r *recorder) wait(t *testing.T, n int) []presence.Change {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		got := slices.Clone(r.changes)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d changes, want %d: %+v", len(got), n, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.changes)
}

// running starts a roster's Run for the test.
func running(t *testing.T, roster *presence.Roster) *presence.Roster {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); roster.Run(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	t.Cleanup(func() { cancel(); <-done })
	return roster
}

func describe(c presence.Change) string {
	return fmt.Sprintf("+%v -%v =%v", c.Joined, c.Left, c.Online)
}

func TestTwoTabsAreOnePerson(t *testing.T) {
	rec := &recorder{}
	roster := running(t, presence.New(nil, 0, rec.record))
	exitA := roster.Enter("ann@example.com")
	exitB := roster.Enter("ann@example.com") // second tab
	exitBob := roster.Enter("bob@example.com")
	exitA(false)
	waitOnline(t, roster, []string{"ann@example.com", "bob@example.com"}, "after one of ann's two tabs closed")
	exitB(false)
	exitB(false) // calling exit twice counts once
	exitBob(false)
	waitOnline(t, roster, []string{}, "after everyone left")
	// Departures may be reported together; each person joins and leaves
	// exactly once either way.
	joined, left := map[string]int{}, map[string]int{}
	for _, c := range rec.wait(t, 2) {
		for _, e := range c.Joined {
			joined[e]++
		}
		for _, e := range c.Left {
			left[e]++
		}
	}
	for _, e := range []string{"ann@example.com", "bob@example.com"} {
		if joined[e] != 1 || left[e] != 1 {
			t.Errorf("%s joined %d and left %d times, want once each", e, joined[e], left[e])
		}
	}
}

func TestGraceHidesReconnects(t *testing.T) {
	rec := &recorder{}
	roster := running(t, presence.New(nil, time.Second, rec.record))
	exit := roster.Enter("ann@example.com")
	rec.wait(t, 1)
	exit(false)
	time.Sleep(500 * time.Millisecond)     // past a publish tick, within the grace period
	exit = roster.Enter("ann@example.com") // a reload
	time.Sleep(time.Second)
	if n := rec.count(); n != 1 {
		t.Fatalf("a reconnect within the grace period was reported: %d changes", n)
	}
	exit(false)
	if got := rec.wait(t, 2)[1]; describe(got) != "+[] -[ann@example.com] =[]" {
		t.Errorf("after the grace period: %s", describe(got))
	}
}

func TestLeaveSkipsGrace(t *testing.T) {
	rec := &recorder{}
	roster := running(t, presence.New(nil, time.Hour, rec.record))
	exit := roster.Enter("ann@example.com")
	rec.wait(t, 1)
	roster.Leave("ann@example.com") // pressed Leave; the page's stream is still open
	time.Sleep(300 * time.Millisecond)
	if n := rec.count(); n != 1 {
		t.Fatalf("left while a stream is open: %d changes", n)
	}
	exit(false)
	if got := rec.wait(t, 2)[1]; describe(got) != "+[] -[ann@example.com] =[]" {
		t.Errorf("after Leave and the stream closing: %s", describe(got))
	}
}

func TestConcurrentTabsEndConsistent(t *testing.T) {
	rec := &recorder{}
	roster := running(t, presence.New(nil, 0, rec.record))
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			email := fmt.Sprintf("p%d@example.com", i%5)
			exit := roster.Enter(email)
			exit(false)
		})
	}
	wg.Wait()
	stay := roster.Enter("stay@example.com")
	defer stay(false)
	deadline := time.Now().Add(2 * time.Second)
	for !slices.Equal(roster.Online(), []string{"stay@example.com"}) {
		if time.Now().After(deadline) {
			t.Fatalf("online settled at %v, want only stay@example.com", roster.Online())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRoomsShareADirectory runs two rosters, as two instances do, on one
// PostgreSQL directory: each sees the other's people.
func TestRoomsShareADirectory(t *testing.T) {
	url := storetest.PostgresURL(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var rosters []*presence.Roster
	var wg sync.WaitGroup
	for i := range 2 {
		pg, err := store.OpenPostgres(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer pg.Close()
		roster := presence.New(pg.Presence(fmt.Sprint("instance-", i)), 0, func(presence.Change) {})
		wg.Go(func() { roster.Run(ctx, log) })
		rosters = append(rosters, roster)
	}
	exitAnn := rosters[0].Enter("ann@example.com")
	exitBob := rosters[1].Enter("bob@example.com")
	both := []string{"ann@example.com", "bob@example.com"}
	for i, roster := range rosters {
		waitOnline(t, roster, both, fmt.Sprint("roster ", i))
	}
	exitAnn(false)
	for i, roster := range rosters {
		waitOnline(t, roster, []string{"bob@example.com"}, fmt.Sprint("roster ", i, " after ann left"))
	}
	// Stopping an instance takes its people out of the directory.
	exitBob(false)
	cancel()
	wg.Wait()
}

func waitOnline(t *testing.T, roster *presence.Roster, want []string, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Equal(roster.Online(), want) && !(len(want) == 0 && len(roster.Online()) == 0) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: online %v, want %v", what, roster.Online(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// slowDirectory is a directory in memory whose writes wait for release,
// as a database busy with a restart's crowd would, and count its calls.
type slowDirectory struct {
	release chan struct{}

	mu      sync.Mutex
	here    map[string]bool
	writes  int
	biggest int
}

func (d *slowDirectory) set(emails []string, on bool) {
	<-d.release
	d.mu.Lock()
	defer d.mu.Unlock()
	d.writes++
	d.biggest = max(d.biggest, len(emails))
	for _, e := range emails {
		if on {
			d.here[e] = true
		} else {
			delete(d.here, e)
		}
	}
}

func (d *slowDirectory) Arrive(ctx context.Context, emails []string) error {
	d.set(emails, true)
	return nil
}

func (d *slowDirectory) Depart(ctx context.Context, emails []string) error {
	d.set(emails, false)
	return nil
}

func (d *slowDirectory) Refresh(ctx context.Context, here []string) error {
	<-d.release
	d.mu.Lock()
	defer d.mu.Unlock()
	d.here = map[string]bool{}
	for _, e := range here {
		d.here[e] = true
	}
	return nil
}

func (d *slowDirectory) Linger(context.Context, time.Duration) error { return nil }

func (d *slowDirectory) Online(ctx context.Context) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var online []string
	for e := range d.here {
		online = append(online, e)
	}
	slices.Sort(online)
	return online, nil
}

// TestCrowdArrivesThroughASlowDirectory: after a restart every stream
// enters at once. None waits for the directory, however slow, and the
// arrivals are written in a few calls, not one each; once the directory
// answers, it holds everyone.
func TestCrowdArrivesThroughASlowDirectory(t *testing.T) {
	dir := &slowDirectory{release: make(chan struct{}), here: map[string]bool{}}
	roster := running(t, presence.New(dir, 0, func(presence.Change) {}))
	const crowd = 10_000 // more than the roster queues
	entered := make(chan struct{})
	go func() {
		defer close(entered)
		for i := range crowd {
			roster.Enter(fmt.Sprintf("p%05d@example.com", i))
		}
	}()
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("streams entering waited for the directory")
	}
	close(dir.release)
	deadline := time.Now().Add(5 * time.Second)
	for {
		online, _ := dir.Online(context.Background())
		if len(online) == crowd {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the directory holds %d of %d people", len(online), crowd)
		}
		time.Sleep(10 * time.Millisecond)
	}
	dir.mu.Lock()
	defer dir.mu.Unlock()
	if dir.writes > 10 || dir.biggest < 100 {
		t.Errorf("%d arrivals took %d writes, the biggest of %d people; want a few big ones", crowd, dir.writes, dir.biggest)
	}
}
