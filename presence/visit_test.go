package presence_test

import (
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/presence"
)

// A page load without a stream (no JavaScript) counts its reader as online
// for a while; another load extends it; then they leave without grace.
func TestVisitCountsForAWhile(t *testing.T) {
	roster := running(t, presence.New(nil, time.Hour, func(presence.Change) {}))
	roster.Visit("carol@example.com", 400*time.Millisecond)
	waitOnline(t, roster, []string{"carol@example.com"}, "after a page load")
	time.Sleep(250 * time.Millisecond)
	roster.Visit("carol@example.com", 400*time.Millisecond) // the next page load
	time.Sleep(250 * time.Millisecond)
	if got := roster.Online(); len(got) != 1 {
		t.Fatalf("online %q 250 ms after a second page load, want carol still", got)
	}
	waitOnline(t, roster, []string{}, "once the last page load is a while ago (despite the hour of grace)")
}

// A page that opens a stream runs JavaScript: its visit ends, and the stream
// alone keeps its reader online.
func TestStreamEndsTheVisit(t *testing.T) {
	roster := running(t, presence.New(nil, 0, func(presence.Change) {}))
	roster.Visit("ann@example.com", time.Hour)
	exit := roster.Enter("ann@example.com")
	waitOnline(t, roster, []string{"ann@example.com"}, "with a stream")
	exit(false)
	waitOnline(t, roster, []string{}, "once the stream closed, though the visit had an hour to go")
}

func TestLeaveEndsTheVisit(t *testing.T) {
	roster := running(t, presence.New(nil, time.Hour, func(presence.Change) {}))
	roster.Visit("carol@example.com", time.Hour)
	waitOnline(t, roster, []string{"carol@example.com"}, "after a page load")
	roster.Leave("carol@example.com")
	waitOnline(t, roster, []string{}, "after pressing Leave")
}
