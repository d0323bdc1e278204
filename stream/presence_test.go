package stream

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/presence"
	"github.com/chatzilla/chatzilla/store"
)

// keptList is a presence.Keeper that always gives the same people.
type keptList []string

func (k keptList) KeepOnline(context.Context, []string) error { return nil }
func (k keptList) TakeOnline(context.Context, time.Time) ([]string, error) {
	return k, nil
}

// TestReconnectsBeforeAnyChangeShareOnePanel: after a restart the people
// coming back were online all along, so no change is published for a
// while; the crowd reconnecting meanwhile shares one who's-online panel,
// framed with names once, not one each (a walk of everyone online and a
// names read per page). A change replaces it.
func TestReconnectsBeforeAnyChangeShareOnePanel(t *testing.T) {
	t.Parallel()
	var reads atomic.Int32
	p := NewPipeline(Config{
		Logger: slog.New(slog.DiscardHandler),
		Keeper: keptList{"ann@example.com", "bob@example.com"},
		Names: func(ctx context.Context, emails []string) (map[string]string, error) {
			reads.Add(1)
			time.Sleep(20 * time.Millisecond) // a database's while
			return map[string]string{"ann@example.com": "Ann"}, nil
		},
	})
	if err := p.roster.TakeOver(t.Context()); err != nil {
		t.Fatal(err)
	}
	general := p.existingRoom(store.GeneralID)
	// The crowd arrives together, while the first page's names read runs.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := p.onlineFrame(general); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	first, err := p.onlineFrame(general)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(first, []byte("Ann")) || !bytes.Contains(first, []byte("bob@example.com")) {
		t.Fatalf("the panel does not list Ann by name and Bob:\n%s", first)
	}
	for range 100 {
		if f, err := p.onlineFrame(general); err != nil || !bytes.Equal(f, first) {
			t.Fatalf("a later page got another panel (%v):\n%s", err, f)
		}
	}
	if n := reads.Load(); n != 1 {
		t.Errorf("121 reconnecting pages read names %d times, want once", n)
	}

	if err := p.publishPresence(presence.Change{
		Joined: []string{"cat@example.com"},
		Online: []string{"ann@example.com", "bob@example.com", "cat@example.com"},
	}); err != nil {
		t.Fatal(err)
	}
	if f, _ := p.onlineFrame(general); !bytes.Contains(f, []byte("cat@example.com")) {
		t.Errorf("after Cat joined a reconnecting page's panel does not list her:\n%s", f)
	}
}
