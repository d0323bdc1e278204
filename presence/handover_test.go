package presence_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/presence"
	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/store/storetest"
)

// A restart on SQLite: the process that stops keeps who it had online,
// and the one that replaces it starts from them, so the pages coming back
// are not announced as people joining. Whoever is not back when the
// handover lapses is shown to leave.
func TestRestartCarriesWhoIsOnline(t *testing.T) {
	ctx := context.Background()
	lite, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "chat.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()

	var before recorder
	first := presence.New(nil, 0, before.record)
	first.KeepWith(lite)
	running(t, first)
	first.Enter("ann@example.com")
	first.Enter("bob@example.com")
	before.wait(t, 1)
	handOver(t, first)

	var after recorder
	second := presence.New(nil, 0, after.record)
	second.KeepWith(lite)
	second.SetHandoverFor(time.Second)
	if err := second.TakeOver(ctx); err != nil {
		t.Fatal(err)
	}
	both := []string{"ann@example.com", "bob@example.com"}
	if got := second.Online(); !slices.Equal(got, both) {
		t.Fatalf("after the restart online is %v, want %v from the start", got, both)
	}
	running(t, second)
	second.Enter("ann@example.com")            // back
	exitCat := second.Enter("cat@example.com") // new
	got := after.wait(t, 1)
	if want := "+[cat@example.com] -[] =[ann@example.com bob@example.com cat@example.com]"; describe(got[0]) != want {
		t.Errorf("first change after the restart: %s, want %s", describe(got[0]), want)
	}
	// Cat, new, leaves at once; Bob, who never came back, when the
	// handover lapses.
	second.Leave("cat@example.com")
	exitCat(false) // the page that pressed Leave goes
	got = after.wait(t, 2)
	if want := "+[] -[cat@example.com] =[ann@example.com bob@example.com]"; describe(got[1]) != want {
		t.Errorf("after Cat pressed Leave: %s, want %s", describe(got[1]), want)
	}
	got = after.wait(t, 3)
	if want := "+[] -[bob@example.com] =[ann@example.com]"; describe(got[2]) != want {
		t.Errorf("once the handover lapsed: %s, want %s (Bob never came back)", describe(got[2]), want)
	}

	// A list is taken over once: a third process starts from no one.
	third := presence.New(nil, 0, func(presence.Change) {})
	third.KeepWith(lite)
	if err := third.TakeOver(ctx); err != nil {
		t.Fatal(err)
	}
	if got := third.Online(); len(got) != 0 {
		t.Errorf("the kept list was taken twice: %v", got)
	}
}

// With a directory, a stopping instance's records lapse after the handover
// instead of at once: its people reconnecting to another instance are not
// seen to leave there, nor to join on the instance that replaces it.
func TestHandOverLingersInTheDirectory(t *testing.T) {
	url := storetest.PostgresURL(t)
	ctx := context.Background()
	open := func(instance string, rec *recorder) *presence.Roster {
		t.Helper()
		pg, err := store.OpenPostgres(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pg.Close() })
		r := presence.New(pg.Presence(instance), 0, rec.record)
		r.SetHandoverFor(2 * time.Second)
		if err := r.TakeOver(ctx); err != nil {
			t.Fatal(err)
		}
		return r
	}
	var seenByOther, seenByOld, seenByNew recorder
	other := running(t, open("other", &seenByOther))
	old := running(t, open("old", &seenByOld))
	old.Enter("ann@example.com")
	old.Enter("bob@example.com")
	both := []string{"ann@example.com", "bob@example.com"}
	waitOnline(t, other, both, "the other instance")
	handOver(t, old)
	handedOver := time.Now()

	replacement := open("new", &seenByNew)
	if got := replacement.Online(); !slices.Equal(got, both) {
		t.Fatalf("the new instance starts with %v online, want %v", got, both)
	}
	running(t, replacement)
	replacement.Enter("ann@example.com") // back; Bob is not

	// Bob leaves once the old instance's records lapse, everywhere; Ann
	// was never seen to leave or join.
	waitOnline(t, other, []string{"ann@example.com"}, "the other instance, once the records lapsed")
	if since := time.Since(handedOver); since < time.Second {
		t.Errorf("the old instance's people left %v after it handed over, want about 2 s", since)
	}
	waitOnline(t, replacement, []string{"ann@example.com"}, "the new instance")
	for name, rec := range map[string]*recorder{"other": &seenByOther, "new": &seenByNew} {
		rec.mu.Lock()
		for _, c := range rec.changes {
			if slices.Contains(c.Left, "ann@example.com") || name == "new" && slices.Contains(c.Joined, "ann@example.com") {
				t.Errorf("the %s instance saw Ann come and go across the restart: %s", name, describe(c))
			}
		}
		rec.mu.Unlock()
	}
}

func handOver(t *testing.T, r *presence.Roster) {
	t.Helper()
	if err := handOverWithin(r, 5*time.Second); err != nil {
		t.Fatalf("handing over: %v", err)
	}
}

// Someone carried over who comes back and then presses Leave is shown to
// leave at once, not when the handover lapses.
func TestLeaveDuringTheHandover(t *testing.T) {
	ctx := context.Background()
	var changes recorder
	r := presence.New(nil, 0, changes.record)
	r.KeepWith(keptList{"ann@example.com", "bob@example.com"})
	r.SetHandoverFor(time.Minute)
	if err := r.TakeOver(ctx); err != nil {
		t.Fatal(err)
	}
	running(t, r)
	exitAnn := r.Enter("ann@example.com")
	r.Leave("ann@example.com")
	exitAnn(false)
	got := changes.wait(t, 1)
	if want := "+[] -[ann@example.com] =[bob@example.com]"; describe(got[0]) != want {
		t.Errorf("after Ann came back and pressed Leave: %s, want %s", describe(got[0]), want)
	}
}

// A handover that fails leaves the roster running as before: it goes on
// publishing, and leaves the directory when it stops. One asked of a
// roster that is not running, or has handed over, fails at once.
func TestHandOverThatFails(t *testing.T) {
	dir := &lingerFails{slowDirectory: slowDirectory{release: make(chan struct{}), here: map[string]bool{}}}
	close(dir.release)
	r := presence.New(dir, 0, func(presence.Change) {})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx, slog.New(slog.DiscardHandler)) }()
	r.Enter("ann@example.com")
	waitOnline(t, r, []string{"ann@example.com"}, "before the handover")
	if err := handOverWithin(r, 5*time.Second); err == nil {
		t.Fatal("a handover whose write failed reported success")
	}
	r.Enter("bob@example.com")
	waitOnline(t, r, []string{"ann@example.com", "bob@example.com"}, "after a failed handover")
	cancel()
	<-done
	if online, _ := dir.Online(context.Background()); len(online) != 0 {
		t.Errorf("the roster stopped without leaving the directory: %v", online)
	}
	start := time.Now()
	if err := handOverWithin(r, 5*time.Second); err == nil || time.Since(start) > time.Second {
		t.Errorf("a handover asked of a stopped roster: %v after %v, want an error at once", err, time.Since(start))
	}
}

func handOverWithin(r *presence.Roster, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return r.HandOver(ctx)
}

// lingerFails is a directory whose Linger fails.
type lingerFails struct{ slowDirectory }

func (d *lingerFails) Linger(context.Context, time.Duration) error {
	return errors.New("the database is away")
}

// keptList is a Keeper that always gives the same people.
type keptList []string

func (k keptList) KeepOnline(context.Context, []string) error { return nil }
func (k keptList) TakeOnline(context.Context, time.Time) ([]string, error) {
	return k, nil
}
