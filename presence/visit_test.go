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
	// A visit counts for 2 s. The second load comes 1 s after the first
	// (and after who is online was published, a tick or so later); 1.5 s
	// after it, the first visit has ended and its departure would have
	// been published (a tick at most), and the second still counts.
	first := time.Now()
	roster.Visit("carol@example.com", 2*time.Second)
	waitOnline(t, roster, []string{"carol@example.com"}, "after a page load")
	time.Sleep(time.Second)
	second := time.Now()
	roster.Visit("carol@example.com", 2*time.Second) // the next page load
	time.Sleep(1500 * time.Millisecond)
	if got := roster.Online(); len(got) != 1 {
		t.Fatalf("online %q %v after a second page load (%v after the first), want carol still",
			got, time.Since(second).Round(time.Millisecond), time.Since(first).Round(time.Millisecond))
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
