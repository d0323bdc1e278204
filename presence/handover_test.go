package presence_test

import (
	"context"
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
	second.Enter("ann@example.com") // back
	second.Enter("cat@example.com") // new
	got := after.wait(t, 1)
	if want := "+[cat@example.com] -[] =[ann@example.com bob@example.com cat@example.com]"; describe(got[0]) != want {
		t.Errorf("first change after the restart: %s, want %s", describe(got[0]), want)
	}
	got = after.wait(t, 2)
	if want := "+[] -[bob@example.com] =[ann@example.com cat@example.com]"; describe(got[1]) != want {
		t.Errorf("once the handover lapsed: %s, want %s (Bob never came back)", describe(got[1]), want)
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.HandOver(ctx); err != nil {
		t.Fatalf("handing over: %v", err)
	}
}
