package store_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/store"
)

// roomStore is what both backends offer for rooms, direct messages and
// unread state.
type roomStore interface {
	authorStore
	AddMessageIn(ctx context.Context, roomID int64, a store.Author, content, key string) (store.Message, error)
	CreateRoom(ctx context.Context, r store.Room, members []string) (store.Room, error)
	Room(ctx context.Context, slug string) (store.Room, error)
	DirectRoom(ctx context.Context, a, b string) (store.Room, error)
	JoinRoom(ctx context.Context, roomID int64, email string) error
	LeaveRoom(ctx context.Context, roomID int64, email string) error
	IsMember(ctx context.Context, roomID int64, email string) (bool, error)
	RoomMembers(ctx context.Context, roomID int64) ([]string, error)
	OpenRooms(ctx context.Context, limit int) ([]store.Room, error)
	RoomsOf(ctx context.Context, email string) ([]store.RoomState, error)
	RoomsOfMany(ctx context.Context, emails []string) (map[string][]store.RoomState, error)
	MarkRead(ctx context.Context, roomID int64, email string, id int64) error
	LastRead(ctx context.Context, roomID int64, email string) (int64, error)
	RoomMessagesAfter(ctx context.Context, roomID, afterID int64, limit int) ([]store.Message, error)
	LogBefore(ctx context.Context, beforeID int64, limit int) ([]store.Message, error)
	RoomCountAfter(ctx context.Context, roomID, afterID int64, limit int) (int, error)
	RoomRecentMessages(ctx context.Context, roomID int64, limit int) ([]store.Message, error)
	RoomMessagesBefore(ctx context.Context, roomID, beforeID int64, limit int) ([]store.Message, error)
}

var (
	_ roomStore = (*store.SQLite)(nil)
	_ roomStore = (*store.Postgres)(nil)
)

const (
	carol = "carol@example.com"
	dave  = "dave@example.com"
	eve   = "eve@example.com"
)

func TestRooms(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, st roomStore, open opener)
	}{
		{"create and find rooms", testCreateRoom},
		{"join, leave and members", testMembership},
		{"open rooms are listed, private ones not", testOpenRooms},
		{"direct rooms", testDirectRooms},
		{"concurrent direct rooms for one pair make one", testDirectRoomRace},
		{"messages in rooms", testRoomMessages},
		{"follow delivers the room", testFollowRoom},
		{"unread counts", testUnread},
		{"many people's rooms in one read", testRoomsOfMany},
		{"mark read never goes back", testMarkRead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			eachBackend(t, func(t *testing.T, open opener) {
				tt.run(t, mustOpen(t, open).(roomStore), open)
			})
		})
	}
}

// mustCreate makes a room created by ann with members.
func mustCreate(t *testing.T, st roomStore, slug string, kind store.RoomKind, members ...string) store.Room {
	t.Helper()
	r, err := st.CreateRoom(t.Context(), store.Room{Slug: slug, Name: slug, Kind: kind, CreatedBy: ann}, members)
	if err != nil {
		t.Fatalf("CreateRoom(%q): %v", slug, err)
	}
	return r
}

func mustPost(t *testing.T, st roomStore, roomID int64, sender, content string) store.Message {
	t.Helper()
	m, err := st.AddMessageIn(t.Context(), roomID, store.Author{Email: sender}, content, "")
	if err != nil {
		t.Fatalf("AddMessageIn(%d, %s): %v", roomID, sender, err)
	}
	return m
}

func members(t *testing.T, st roomStore, roomID int64) []string {
	t.Helper()
	got, err := st.RoomMembers(t.Context(), roomID)
	if err != nil {
		t.Fatalf("RoomMembers(%d): %v", roomID, err)
	}
	return got
}

func testCreateRoom(t *testing.T, st roomStore, _ opener) {
	ctx := t.Context()
	general, err := st.Room(ctx, store.GeneralSlug)
	if err != nil || general.ID != store.GeneralID || general.Name != "general" || general.Kind != store.RoomOpen || general.CreatedBy != "" {
		t.Errorf("Room(general) = %+v, %v", general, err)
	}

	before := time.Now()
	r, err := st.CreateRoom(ctx, store.Room{Slug: "design", Name: "Design", Kind: store.RoomPrivate, CreatedBy: ann}, []string{bob, ann, bob})
	if err != nil {
		t.Fatalf("CreateRoom: %v", err)
	}
	if r.ID != 2 || r.Slug != "design" || r.Name != "Design" || r.Kind != store.RoomPrivate || r.CreatedBy != ann {
		t.Errorf("CreateRoom = %+v; want id 2, the rest as given", r)
	}
	if r.CreatedAt.Location() != time.UTC || r.CreatedAt.Before(before.Add(-2*time.Second)) || r.CreatedAt.After(time.Now().Add(2*time.Second)) {
		t.Errorf("CreatedAt = %v, want about now, UTC", r.CreatedAt)
	}
	got, err := st.Room(ctx, "design")
	if err != nil || got != r {
		t.Errorf("Room(design) = %+v, %v; want %+v", got, err, r)
	}
	if got := members(t, st, r.ID); !slices.Equal(got, []string{ann, bob}) {
		t.Errorf("members = %v, want the creator and bob once each", got)
	}
	if r2 := mustCreate(t, st, "second", store.RoomOpen); r2.ID != 3 {
		t.Errorf("second room's id %d, want 3", r2.ID)
	}

	if _, err := st.Room(ctx, "nope"); !errors.Is(err, store.ErrNoRoom) {
		t.Errorf("Room(nope): %v, want ErrNoRoom", err)
	}
	for _, slug := range []string{"design", store.GeneralSlug, store.DirectSlug(ann, bob)} {
		_, err := st.CreateRoom(ctx, store.Room{Slug: slug, Name: "x", Kind: store.RoomOpen, CreatedBy: bob}, nil)
		if !errors.Is(err, store.ErrRoomTaken) {
			t.Errorf("CreateRoom(%q): %v, want ErrRoomTaken", slug, err)
		}
	}
	for _, bad := range []store.Room{
		{Slug: "dm", Name: "dm", Kind: store.RoomDirect, CreatedBy: ann},
		{Slug: "odd", Name: "odd", Kind: "secret", CreatedBy: ann},
		{Slug: "", Name: "x", Kind: store.RoomOpen, CreatedBy: ann},
		{Slug: "x", Name: "", Kind: store.RoomOpen, CreatedBy: ann},
		{Slug: "x", Name: "x", Kind: store.RoomOpen},
	} {
		if _, err := st.CreateRoom(ctx, bad, nil); err == nil || errors.Is(err, store.ErrRoomTaken) {
			t.Errorf("CreateRoom(%+v): %v, want an error other than ErrRoomTaken", bad, err)
		}
	}
	// Nothing refused was half made.
	if _, err := st.Room(ctx, "x"); !errors.Is(err, store.ErrNoRoom) {
		t.Errorf("a refused room exists: %v", err)
	}
	if got := members(t, st, r.ID); !slices.Equal(got, []string{ann, bob}) {
		t.Errorf("members after a taken slug = %v", got)
	}
}

func testMembership(t *testing.T, st roomStore, _ opener) {
	ctx := t.Context()
	r := mustCreate(t, st, "team", store.RoomOpen)
	member := func(roomID int64, email string) bool {
		t.Helper()
		ok, err := st.IsMember(ctx, roomID, email)
		if err != nil {
			t.Fatalf("IsMember: %v", err)
		}
		return ok
	}
	if !member(r.ID, ann) || member(r.ID, bob) {
		t.Error("after create: ann must be a member, bob not")
	}
	for range 2 { // idempotent
		if err := st.JoinRoom(ctx, r.ID, bob); err != nil {
			t.Fatalf("JoinRoom: %v", err)
		}
	}
	if !member(r.ID, bob) || !slices.Equal(members(t, st, r.ID), []string{ann, bob}) {
		t.Errorf("after bob joined twice: members %v", members(t, st, r.ID))
	}
	for range 2 { // the second time, not a member: no error
		if err := st.LeaveRoom(ctx, r.ID, ann); err != nil {
			t.Fatalf("LeaveRoom: %v", err)
		}
	}
	if member(r.ID, ann) || !slices.Equal(members(t, st, r.ID), []string{bob}) {
		t.Errorf("after ann left: members %v", members(t, st, r.ID))
	}
	if err := st.LeaveRoom(ctx, 999, ann); err != nil {
		t.Errorf("LeaveRoom of no room: %v", err)
	}
	if err := st.JoinRoom(ctx, 999, ann); !errors.Is(err, store.ErrNoRoom) {
		t.Errorf("JoinRoom of no room: %v, want ErrNoRoom", err)
	}

	// general: everyone, always.
	if err := st.LeaveRoom(ctx, store.GeneralID, ann); !errors.Is(err, store.ErrGeneral) {
		t.Errorf("LeaveRoom(general): %v, want ErrGeneral", err)
	}
	if err := st.JoinRoom(ctx, store.GeneralID, eve); err != nil {
		t.Errorf("JoinRoom(general): %v", err)
	}
	if !member(store.GeneralID, "nobody@example.com") {
		t.Error("someone never seen is not in general")
	}
	if got, err := st.RoomMembers(ctx, store.GeneralID); got != nil || err != nil {
		t.Errorf("RoomMembers(general) = %v, %v; want nil, nil", got, err)
	}
	if got, err := st.RoomMembers(ctx, 999); len(got) != 0 || err != nil {
		t.Errorf("RoomMembers(no room) = %v, %v", got, err)
	}
}

func testOpenRooms(t *testing.T, st roomStore, _ opener) {
	ctx := t.Context()
	mustCreate(t, st, "zeta", store.RoomOpen)
	mustCreate(t, st, "secret", store.RoomPrivate)
	mustCreate(t, st, "alpha", store.RoomOpen)
	if _, err := st.DirectRoom(ctx, ann, bob); err != nil {
		t.Fatal(err)
	}
	slugs := func(rooms []store.Room) []string {
		var s []string
		for _, r := range rooms {
			s = append(s, r.Slug)
		}
		return s
	}
	got, err := st.OpenRooms(ctx, 10)
	if err != nil || !slices.Equal(slugs(got), []string{"alpha", "general", "zeta"}) {
		t.Errorf("OpenRooms(10) = %v, %v; want alpha, general, zeta", slugs(got), err)
	}
	got, err = st.OpenRooms(ctx, 2)
	if err != nil || !slices.Equal(slugs(got), []string{"alpha", "general"}) {
		t.Errorf("OpenRooms(2) = %v, %v", slugs(got), err)
	}
	if _, err := st.OpenRooms(ctx, 0); err == nil {
		t.Error("OpenRooms(0): no error")
	}
}

func testDirectRooms(t *testing.T, st roomStore, _ opener) {
	ctx := t.Context()
	slug := store.DirectSlug(ann, bob)
	if !regexp.MustCompile(`^dm-[0-9a-f]{16}$`).MatchString(slug) {
		t.Errorf("DirectSlug = %q, want dm- and 16 hex digits", slug)
	}
	if store.DirectSlug(bob, ann) != slug {
		t.Error("DirectSlug depends on the order of the addresses")
	}
	if store.DirectSlug(strings.ToUpper(bob[:1])+bob[1:], ann) == slug {
		t.Error("DirectSlug gives two people whose addresses differ in case one room")
	}
	if store.DirectSlug(ann, carol) == slug {
		t.Error("two pairs, one slug")
	}

	r, err := st.DirectRoom(ctx, ann, bob)
	if err != nil {
		t.Fatalf("DirectRoom: %v", err)
	}
	if r.ID < 2 || r.Slug != slug || r.Name != "" || r.Kind != store.RoomDirect || r.CreatedBy != ann {
		t.Errorf("DirectRoom = %+v", r)
	}
	again, err := st.DirectRoom(ctx, bob, ann)
	if err != nil || again != r {
		t.Errorf("DirectRoom the other way round = %+v, %v; want %+v", again, err, r)
	}
	if got, err := st.Room(ctx, slug); err != nil || got != r {
		t.Errorf("Room(%q) = %+v, %v", slug, got, err)
	}
	if got := members(t, st, r.ID); !slices.Equal(got, []string{ann, bob}) {
		t.Errorf("members = %v, want ann and bob", got)
	}
	if ok, err := st.IsMember(ctx, r.ID, eve); ok || err != nil {
		t.Errorf("IsMember(eve) = %v, %v", ok, err)
	}
	if err := st.JoinRoom(ctx, r.ID, eve); !errors.Is(err, store.ErrDirect) {
		t.Errorf("a third person joins: %v, want ErrDirect", err)
	}
	if err := st.JoinRoom(ctx, r.ID, bob); err != nil {
		t.Errorf("one of the two joins again: %v", err)
	}
	if err := st.LeaveRoom(ctx, r.ID, ann); !errors.Is(err, store.ErrDirect) {
		t.Errorf("LeaveRoom of a direct room: %v, want ErrDirect", err)
	}
	if got := members(t, st, r.ID); !slices.Equal(got, []string{ann, bob}) {
		t.Errorf("members after refusals = %v", got)
	}
	if _, err := st.DirectRoom(ctx, ann, ann); err == nil {
		t.Error("DirectRoom of ann with herself: no error")
	}
}

// testDirectRoomRace is both people opening their conversation at once, on
// two instances (two handles on one database).
func testDirectRoomRace(t *testing.T, st roomStore, open opener) {
	other := mustOpen(t, open).(roomStore)
	const calls = 8
	rooms := make([]store.Room, calls)
	errs := make([]error, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			if i%2 == 0 {
				rooms[i], errs[i] = st.DirectRoom(t.Context(), carol, dave)
			} else {
				rooms[i], errs[i] = other.DirectRoom(t.Context(), dave, carol)
			}
		})
	}
	wg.Wait()
	for i := range calls {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if rooms[i] != rooms[0] {
			t.Errorf("call %d found %+v, call 0 %+v", i, rooms[i], rooms[0])
		}
	}
	if got := members(t, st, rooms[0].ID); !slices.Equal(got, []string{carol, dave}) {
		t.Errorf("members = %v", got)
	}
	if got, err := st.RoomsOf(t.Context(), carol); err != nil || len(got) != 2 {
		t.Errorf("carol's rooms: %+v, %v; want general and one direct room", got, err)
	}
}

func testRoomMessages(t *testing.T, st roomStore, _ opener) {
	ctx := t.Context()
	r := mustCreate(t, st, "side", store.RoomOpen)
	var inRoom, inGeneral []int64
	for i := range 6 {
		if i%2 == 0 {
			m := mustPost(t, st, r.ID, ann, fmt.Sprint("side ", i))
			if m.RoomID != r.ID {
				t.Errorf("AddMessageIn returned room %d, want %d", m.RoomID, r.ID)
			}
			inRoom = append(inRoom, m.ID)
		} else {
			m, err := st.AddMessageAs(ctx, store.Author{Email: bob}, fmt.Sprint("general ", i), "")
			if err != nil || m.RoomID != store.GeneralID {
				t.Fatalf("AddMessageAs = %+v, %v; want room general", m, err)
			}
			inGeneral = append(inGeneral, m.ID)
		}
	}
	if m, err := st.AddMessage(ctx, bob, "plain"); err != nil || m.RoomID != store.GeneralID {
		t.Errorf("AddMessage = %+v, %v; want room general", m, err)
	} else {
		inGeneral = append(inGeneral, m.ID)
	}

	check := func(name string, got []store.Message, err error, want []int64, room int64) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(idsOf(got), want) {
			t.Errorf("%s = %v, want %v", name, idsOf(got), want)
		}
		for _, m := range got {
			if m.RoomID != room {
				t.Errorf("%s: message %d in room %d, want %d", name, m.ID, m.RoomID, room)
			}
		}
	}
	got, err := st.RoomMessagesAfter(ctx, r.ID, 0, 10)
	check("RoomMessagesAfter(0)", got, err, inRoom, r.ID)
	got, err = st.RoomMessagesAfter(ctx, r.ID, inRoom[0], 1)
	check("RoomMessagesAfter(first, 1)", got, err, inRoom[1:2], r.ID)
	got, err = st.RoomRecentMessages(ctx, r.ID, 2)
	check("RoomRecentMessages(2)", got, err, inRoom[1:], r.ID)
	got, err = st.RoomMessagesBefore(ctx, r.ID, inRoom[2], 10)
	check("RoomMessagesBefore(last)", got, err, inRoom[:2], r.ID)
	got, err = st.RoomRecentMessages(ctx, store.GeneralID, 10)
	check("RoomRecentMessages(general)", got, err, inGeneral, store.GeneralID)
	got, err = st.RoomMessagesAfter(ctx, 999, 0, 10)
	check("RoomMessagesAfter(no room)", got, err, []int64{}, 999)
	for _, bad := range []func() ([]store.Message, error){
		func() ([]store.Message, error) { return st.RoomMessagesAfter(ctx, r.ID, 0, 0) },
		func() ([]store.Message, error) { return st.RoomRecentMessages(ctx, r.ID, 0) },
		func() ([]store.Message, error) { return st.RoomMessagesBefore(ctx, r.ID, 100, -1) },
	} {
		if _, err := bad(); err == nil {
			t.Error("a limit below 1: no error")
		}
	}

	// general keeps the reads it had before rooms: its messages alone.
	for name, read := range map[string][]store.Message{
		"MessagesAfter":  must(st.MessagesAfter(ctx, 0, 100)),
		"RecentMessages": must(st.RecentMessages(ctx, 100)),
		"MessagesBefore": must(st.MessagesBefore(ctx, 1<<40, 100)),
	} {
		check(name, read, nil, inGeneral, store.GeneralID)
	}
	// Counting stops at the limit.
	for limit, want := range map[int]int{1: 1, 2: 2, 10: len(inRoom)} {
		if n, err := st.RoomCountAfter(ctx, r.ID, 0, limit); err != nil || n != want {
			t.Errorf("RoomCountAfter(limit %d) = %d, %v; want %d", limit, n, err, want)
		}
	}
	if n, err := st.RoomCountAfter(ctx, r.ID, inRoom[0], 10); err != nil || n != len(inRoom)-1 {
		t.Errorf("RoomCountAfter(after the first) = %d, %v", n, err)
	}
	// The whole log still reads as one, each message with its room.
	all := must(st.LogBefore(ctx, 1<<40, 100))
	if len(all) != len(inRoom)+len(inGeneral) {
		t.Fatalf("LogBefore = %d messages", len(all))
	}
	for _, read := range [][]store.Message{all} {
		for _, m := range read {
			want := store.GeneralID
			if slices.Contains(inRoom, m.ID) {
				want = r.ID
			}
			if m.RoomID != want {
				t.Errorf("message %d read in room %d, want %d", m.ID, m.RoomID, want)
			}
		}
	}
	if m, err := st.Message(ctx, inRoom[0]); err != nil || m.RoomID != r.ID {
		t.Errorf("Message(%d) = %+v, %v", inRoom[0], m, err)
	}

	// A key is the sender's across rooms.
	if _, err := st.AddMessageIn(ctx, r.ID, store.Author{Email: ann}, "once", "k1"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddMessageIn(ctx, store.GeneralID, store.Author{Email: ann}, "once", "k1"); !errors.Is(err, store.ErrAlreadyStored) {
		t.Errorf("the same key in another room: %v, want ErrAlreadyStored", err)
	}
	if _, err := st.AddMessageIn(ctx, 0, store.Author{Email: ann}, "nowhere", ""); err == nil {
		t.Error("AddMessageIn(room 0): no error")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// testFollowRoom: Follow carries every room's messages, each with its room,
// both caught up on and live.
func testFollowRoom(t *testing.T, st roomStore, open opener) {
	ctx := t.Context()
	follower := st
	if _, ok := st.(*store.Postgres); ok {
		follower = mustOpen(t, open).(roomStore) // as another instance
	}
	r := mustCreate(t, st, "side", store.RoomOpen)
	want := []store.Message{mustPost(t, st, r.ID, ann, "before"), mustPost(t, st, store.GeneralID, ann, "before")}

	followed := make(chan store.Message, 10)
	followCtx, stop := context.WithCancel(ctx)
	defer stop()
	go follower.Follow(followCtx, 0, func(m store.Message) { followed <- m })
	receive := func() {
		t.Helper()
		for _, w := range want {
			select {
			case m := <-followed:
				if m.ID != w.ID || m.RoomID != w.RoomID {
					t.Errorf("followed message %d in room %d, want %d in room %d", m.ID, m.RoomID, w.ID, w.RoomID)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("message %d never followed", w.ID)
			}
		}
	}
	receive()
	want = []store.Message{mustPost(t, st, store.GeneralID, bob, "live"), mustPost(t, st, r.ID, bob, "live")}
	receive()
}

// roomState finds a room in a sidebar by slug.
func roomState(t *testing.T, rooms []store.RoomState, slug string) store.RoomState {
	t.Helper()
	for _, r := range rooms {
		if r.Slug == slug {
			return r
		}
	}
	t.Fatalf("no room %q in %+v", slug, rooms)
	return store.RoomState{}
}

func roomsOf(t *testing.T, st roomStore, email string) []store.RoomState {
	t.Helper()
	rooms, err := st.RoomsOf(t.Context(), email)
	if err != nil {
		t.Fatalf("RoomsOf(%s): %v", email, err)
	}
	return rooms
}

// testRoomsOfMany: one read of several people's rooms gives each of them
// what reading theirs alone does: their own rooms, counts without their own
// messages, the other person of their direct rooms.
func testRoomsOfMany(t *testing.T, st roomStore, _ opener) {
	ctx := t.Context()
	team := mustCreate(t, st, "team", store.RoomOpen, bob, carol)
	mustCreate(t, st, "art", store.RoomPrivate, bob)
	dm, err := st.DirectRoom(ctx, bob, eve)
	if err != nil {
		t.Fatal(err)
	}
	post := func(room int64, who string, n int) (last store.Message) {
		for i := range n {
			if last, err = st.AddMessageIn(ctx, room, store.Author{Email: who}, fmt.Sprint("hello ", i), ""); err != nil {
				t.Fatal(err)
			}
		}
		return last
	}
	first := post(store.GeneralID, ann, 1)
	post(store.GeneralID, ann, 1)
	post(store.GeneralID, bob, 1)
	post(team.ID, carol, 3)
	post(team.ID, bob, 1)
	post(dm.ID, eve, 2)
	if err := st.MarkRead(ctx, store.GeneralID, carol, first.ID); err != nil {
		t.Fatal(err)
	}

	people := []string{ann, bob, carol, eve, dave, bob} // dave: no rooms, no messages; bob twice
	got, err := st.RoomsOfMany(ctx, people)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Errorf("RoomsOfMany gave %d people, want 5: %+v", len(got), got)
	}
	for _, email := range people {
		if want := roomsOf(t, st, email); !slices.Equal(got[email], want) {
			t.Errorf("RoomsOfMany's rooms of %s:\n%+v\nwant, as RoomsOf reads them:\n%+v", email, got[email], want)
		}
	}
	// A few figures, so that agreeing with RoomsOf is not agreeing on nothing.
	if g := roomState(t, got[bob], "general"); g.Unread != 2 {
		t.Errorf("bob's general: %d unread, want 2 (ann's; not his own)", g.Unread)
	}
	if g := roomState(t, got[carol], "general"); g.Unread != 2 {
		t.Errorf("carol's general: %d unread, want 2 (she read the first)", g.Unread)
	}
	if d := roomState(t, got[bob], dm.Slug); d.Other != eve || d.Unread != 2 {
		t.Errorf("bob's direct room: %+v, want with eve and 2 unread", d)
	}
	if len(got[dave]) != 1 || got[dave][0].ID != store.GeneralID || got[dave][0].Unread != 3 {
		t.Errorf("dave's rooms: %+v, want general alone with 3 unread", got[dave])
	}

	if none, err := st.RoomsOfMany(ctx, nil); err != nil || len(none) != 0 {
		t.Errorf("RoomsOfMany(nil) = %+v, %v; want nothing", none, err)
	}
}

func testUnread(t *testing.T, st roomStore, _ opener) {
	ctx := t.Context()
	team := mustCreate(t, st, "team", store.RoomOpen, bob)
	mustCreate(t, st, "art", store.RoomPrivate, bob)
	mustCreate(t, st, "zoo", store.RoomOpen) // ann's, not bob's
	dmEve, err := st.DirectRoom(ctx, bob, eve)
	if err != nil {
		t.Fatal(err)
	}
	dmAnn, err := st.DirectRoom(ctx, bob, ann)
	if err != nil {
		t.Fatal(err)
	}

	// The sidebar's order: general, rooms by name, direct rooms by the other.
	var order []string
	var others []string
	for _, r := range roomsOf(t, st, bob) {
		order = append(order, r.Slug)
		others = append(others, r.Other)
		if r.Unread != 0 || r.LastRead != 0 {
			t.Errorf("%s before any message: %+v", r.Slug, r)
		}
	}
	if want := []string{"general", "art", "team", dmAnn.Slug, dmEve.Slug}; !slices.Equal(order, want) {
		t.Errorf("bob's rooms %v, want %v", order, want)
	}
	if want := []string{"", "", "", ann, eve}; !slices.Equal(others, want) {
		t.Errorf("bob's rooms' others %v, want %v", others, want)
	}
	if got := roomState(t, roomsOf(t, st, eve), dmEve.Slug).Other; got != bob {
		t.Errorf("eve's direct room's other = %q, want bob", got)
	}

	// In team: ann, ann, bob, ann. Bob's own message is not unread to him.
	a1 := mustPost(t, st, team.ID, ann, "a1")
	mustPost(t, st, team.ID, ann, "a2")
	mustPost(t, st, team.ID, bob, "b1")
	a3 := mustPost(t, st, team.ID, ann, "a3")
	mustPost(t, st, dmAnn.ID, ann, "psst")
	if got := roomState(t, roomsOf(t, st, bob), "team"); got.Unread != 3 || got.LastRead != 0 || got.Newest != a3.ID {
		t.Errorf("bob's team: %+v, want 3 unread, newest %d", got, a3.ID)
	}
	if got := roomState(t, roomsOf(t, st, bob), "art"); got.Newest != 0 {
		t.Errorf("bob's art, with no message: newest %d, want 0", got.Newest)
	}
	if got := roomState(t, roomsOf(t, st, ann), "team"); got.Unread != 1 {
		t.Errorf("ann's team: %+v, want 1 unread (bob's)", got)
	}
	if got := roomState(t, roomsOf(t, st, bob), dmAnn.Slug); got.Unread != 1 || got.Other != ann {
		t.Errorf("bob's direct room with ann: %+v, want 1 unread", got)
	}
	if got := roomState(t, roomsOf(t, st, bob), "general"); got.Unread != 0 {
		t.Errorf("bob's general: %+v, want 0 unread", got)
	}
	if err := st.MarkRead(ctx, team.ID, bob, a1.ID); err != nil {
		t.Fatal(err)
	}
	if got := roomState(t, roomsOf(t, st, bob), "team"); got.Unread != 2 || got.LastRead != a1.ID {
		t.Errorf("bob's team after reading a1: %+v, want 2 unread", got)
	}
	if err := st.MarkRead(ctx, team.ID, bob, a3.ID); err != nil {
		t.Fatal(err)
	}
	if got := roomState(t, roomsOf(t, st, bob), "team"); got.Unread != 0 || got.LastRead != a3.ID {
		t.Errorf("bob's team after reading all: %+v", got)
	}

	// The count stops at MaxUnread.
	for i := range store.MaxUnread + 5 {
		mustPost(t, st, store.GeneralID, ann, fmt.Sprint(i))
	}
	if got := roomState(t, roomsOf(t, st, bob), "general"); got.Unread != store.MaxUnread {
		t.Errorf("bob's general after %d: %d unread, want %d", store.MaxUnread+5, got.Unread, store.MaxUnread)
	}
	if got := roomState(t, roomsOf(t, st, ann), "general"); got.Unread != 0 {
		t.Errorf("ann's general, all her own: %d unread", got.Unread)
	}
	// Someone never seen has general, with everything unread.
	if rooms := roomsOf(t, st, "new@example.com"); len(rooms) != 1 || rooms[0].ID != store.GeneralID || rooms[0].Unread != store.MaxUnread {
		t.Errorf("a newcomer's rooms: %+v", rooms)
	}
}

func testMarkRead(t *testing.T, st roomStore, _ opener) {
	ctx := t.Context()
	r := mustCreate(t, st, "team", store.RoomOpen, bob)
	var ids []store.Message
	for i := range 5 {
		ids = append(ids, mustPost(t, st, r.ID, ann, fmt.Sprint(i)))
		mustPost(t, st, store.GeneralID, ann, fmt.Sprint(i))
	}
	lastRead := func(roomID int64, email string) int64 {
		t.Helper()
		id, err := st.LastRead(ctx, roomID, email)
		if err != nil {
			t.Fatalf("LastRead: %v", err)
		}
		return id
	}
	mark := func(roomID int64, email string, id int64) {
		t.Helper()
		if err := st.MarkRead(ctx, roomID, email, id); err != nil {
			t.Fatalf("MarkRead(%d, %s, %d): %v", roomID, email, id, err)
		}
	}
	if got := lastRead(r.ID, bob); got != 0 {
		t.Errorf("before any MarkRead: %d", got)
	}
	mark(r.ID, bob, ids[3].ID)
	mark(r.ID, bob, ids[1].ID) // a tab behind the others
	mark(r.ID, bob, -1)
	if got := lastRead(r.ID, bob); got != ids[3].ID {
		t.Errorf("after 3, 1, -1: %d, want %d", got, ids[3].ID)
	}
	mark(r.ID, bob, 1<<40) // beyond the room's last message
	if got := lastRead(r.ID, bob); got != ids[4].ID {
		t.Errorf("after an id beyond the last: %d, want the last message's %d", got, ids[4].ID)
	}

	// general: the row is made on demand, and is monotonic too.
	gen := must(st.RoomRecentMessages(ctx, store.GeneralID, 10))
	mark(store.GeneralID, eve, gen[2].ID)
	mark(store.GeneralID, eve, gen[0].ID)
	if got := lastRead(store.GeneralID, eve); got != gen[2].ID {
		t.Errorf("eve's general: %d, want %d", got, gen[2].ID)
	}
	if got := roomState(t, roomsOf(t, st, eve), "general"); got.LastRead != gen[2].ID || got.Unread != 2 {
		t.Errorf("eve's general in RoomsOf: %+v, want 2 unread", got)
	}
	// Marking general made no membership to list.
	if got := members(t, st, store.GeneralID); got != nil {
		t.Errorf("general's members %v", got)
	}
	// Another room: not a member, no change.
	mark(r.ID, eve, ids[2].ID)
	if got := lastRead(r.ID, eve); got != 0 {
		t.Errorf("a non-member's last read: %d", got)
	}
	if ok, _ := st.IsMember(ctx, r.ID, eve); ok {
		t.Error("MarkRead made eve a member")
	}
	// Leaving forgets; joining again starts from nothing read.
	if err := st.LeaveRoom(ctx, r.ID, bob); err != nil {
		t.Fatal(err)
	}
	if err := st.JoinRoom(ctx, r.ID, bob); err != nil {
		t.Fatal(err)
	}
	if got := lastRead(r.ID, bob); got != 0 {
		t.Errorf("after leaving and joining again: %d", got)
	}
}
