package stream_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/stream"
)

// eventIDs are the ids of the messages in a stream's text.
var eventIDs = regexp.MustCompile(`(?m)^id: (\d+)$`)

func idsIn(text string) []string {
	var ids []string
	for _, m := range eventIDs.FindAllStringSubmatch(text, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// TestRoomReplayCarriesItsRoomAlone interleaves two rooms' messages: a
// stream resuming in one is sent that room's messages after its point, from
// memory and from the store alike, byte for byte, and none of the other's.
// How far behind it is counts the room's messages, not ids: a quiet room in
// a busy log is not told to reload.
func TestRoomReplayCarriesItsRoomAlone(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	ops, err := st.CreateRoom(ctx, store.Room{Slug: "ops", Name: "ops", Kind: store.RoomOpen, CreatedBy: "ann@example.com"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var inOps []string
	for i := range 60 {
		room := store.GeneralID
		if i%6 == 0 {
			room = ops.ID
		}
		m, err := st.AddMessageIn(ctx, room, store.Author{Email: "ann@example.com"}, fmt.Sprint("message ", i), "")
		if err != nil {
			t.Fatal(err)
		}
		if room == ops.ID {
			inOps = append(inOps, fmt.Sprint(m.ID))
		}
	}
	last := inOps[len(inOps)-1]
	var replays []string
	for _, recent := range []int{0, -1} { // memory, then the store
		tp := newPipeline(t, st, func(c *stream.Config) { c.Recent = recent; c.MaxReplay = 20 })
		e, err := tp.open(t, fmt.Sprintf("?room=%d&after=%s", ops.ID, inOps[0]))
		if err != nil {
			t.Fatal(err)
		}
		text, err := e.until("id: " + last + "\n")
		if err != nil {
			t.Fatal(err)
		}
		if got := idsIn(text); !slices.Equal(got, inOps[1:]) {
			t.Errorf("recent %d: replayed %v, want ops' %v", recent, got, inOps[1:])
		}
		replays = append(replays, text)
	}
	if replays[0] != replays[1] {
		t.Errorf("memory and store replays differ:\n%s\n---\n%s", replays[0], replays[1])
	}
}

// TestRoomFarBehindIsToldToReload: a page further behind in its room than
// MaxReplay messages is told to reload, from memory and from the store.
func TestRoomFarBehindIsToldToReload(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	ops, err := st.CreateRoom(ctx, store.Room{Slug: "ops", Name: "ops", Kind: store.RoomOpen, CreatedBy: "ann@example.com"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := st.AddMessageIn(ctx, ops.ID, store.Author{Email: "ann@example.com"}, fmt.Sprint("message ", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, recent := range []int{100, -1} { // all in memory; none
		tp := newPipeline(t, st, func(c *stream.Config) { c.Recent = recent; c.MaxReplay = 5 })
		e, err := tp.open(t, fmt.Sprintf("?room=%d&after=0", ops.ID))
		if err != nil {
			t.Fatal(err)
		}
		text, err := e.until("event: chatzilla-reload")
		if err != nil || len(idsIn(text)) != 0 {
			t.Errorf("recent %d: %v; sent %q before the reload, want nothing", recent, err, text)
		}
	}
}

// TestIdleRoomHubIsRetiredAndMadeAgain: a room nobody reads here loses its
// hub after a few heartbeats; a stream that opens in it later gets a new
// one, and misses nothing posted in between.
func TestIdleRoomHubIsRetiredAndMadeAgain(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	ops, err := st.CreateRoom(ctx, store.Room{Slug: "ops", Name: "ops", Kind: store.RoomOpen, CreatedBy: "ann@example.com"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tp := newPipeline(t, st, func(c *stream.Config) { c.Heartbeat = 10 * time.Millisecond })
	first, err := st.AddMessageIn(ctx, ops.ID, store.Author{Email: "ann@example.com"}, "first", "")
	if err != nil {
		t.Fatal(err)
	}
	e, err := tp.open(t, fmt.Sprintf("?room=%d&after=0", ops.ID))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.until(fmt.Sprintf("id: %d\n", first.ID)); err != nil {
		t.Fatal(err)
	}
	hubBefore := tp.RoomHub(ops.ID)
	tp.CloseStreams(ops.ID)
	deadline := time.Now().Add(5 * time.Second)
	for tp.RoomHub(ops.ID) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the idle room's hub was not retired")
		}
		time.Sleep(10 * time.Millisecond)
	}
	second, err := st.AddMessageIn(ctx, ops.ID, store.Author{Email: "ann@example.com"}, "while no one read", "")
	if err != nil {
		t.Fatal(err)
	}
	e, err = tp.open(t, fmt.Sprintf("?room=%d&after=%d", ops.ID, first.ID))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.until(fmt.Sprintf("id: %d\n", second.ID)); err != nil {
		t.Fatal(err)
	}
	third, err := st.AddMessageIn(ctx, ops.ID, store.Author{Email: "ann@example.com"}, "live again", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.until(fmt.Sprintf("id: %d\n", third.ID)); err != nil {
		t.Fatal(err)
	}
	if h := tp.RoomHub(ops.ID); h == nil || h == hubBefore {
		t.Error("the room did not get a new hub")
	}
}
