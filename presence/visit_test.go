package presence_test

import (
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/presence"
)

// A page load without a stream (no JavaScript) counts its reader as online
// for a while; another load extends it; then they leave without grace.
func TestVisitCountsForAWhile(t *testing.T) {
	room := running(t, presence.New(nil, time.Hour, func(presence.Change) {}))
	room.Visit("carol@example.com", 400*time.Millisecond)
	waitOnline(t, room, []string{"carol@example.com"}, "after a page load")
	time.Sleep(250 * time.Millisecond)
	room.Visit("carol@example.com", 400*time.Millisecond) // the next page load
	time.Sleep(250 * time.Millisecond)
	if got := room.Online(); len(got) != 1 {
		t.Fatalf("online %q 250 ms after a second page load, want carol still", got)
	}
	waitOnline(t, room, []string{}, "once the last page load is a while ago (despite the hour of grace)")
}

// A page that opens a stream runs JavaScript: its visit ends, and the stream
// alone keeps its reader online.
func TestStreamEndsTheVisit(t *testing.T) {
	room := running(t, presence.New(nil, 0, func(presence.Change) {}))
	room.Visit("ann@example.com", time.Hour)
	exit := room.Enter("ann@example.com")
	waitOnline(t, room, []string{"ann@example.com"}, "with a stream")
	exit(false)
	waitOnline(t, room, []string{}, "once the stream closed, though the visit had an hour to go")
}

func TestLeaveEndsTheVisit(t *testing.T) {
	room := running(t, presence.New(nil, time.Hour, func(presence.Change) {}))
	room.Visit("carol@example.com", time.Hour)
	waitOnline(t, room, []string{"carol@example.com"}, "after a page load")
	room.Leave("carol@example.com")
	waitOnline(t, room, []string{}, "after pressing Leave")
}
