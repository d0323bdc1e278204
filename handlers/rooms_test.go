package handlers_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/handlers"
	"github.com/chatzilla/chatzilla/mail/mailtest"
	"github.com/chatzilla/chatzilla/store"
)

// signedIn is a client signed in as email by the link mailed to it.
func signedIn(t *testing.T, ts *testServer, smtp *mailtest.Server, email string) *http.Client {
	t.Helper()
	c := ts.client(t)
	if resp := post(t, c, ts.URL+"/join", url.Values{"email": {email}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("join as %s: %d", email, resp.StatusCode)
	}
	page := get(t, c, mailedLink(t, ts, smtp, email))
	token := page.doc(t).Find(`input[name=token]`).AttrOr("value", "")
	if resp := post(t, c, ts.URL+"/sign-in", url.Values{"token": {token}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in as %s: %d", email, resp.StatusCode)
	}
	return c
}

// createRoom posts the create-a-room form and returns the answer.
func createRoom(t *testing.T, ts *testServer, c *http.Client, name, kind string) response {
	t.Helper()
	return post(t, c, ts.URL+"/rooms", url.Values{"name": {name}, "kind": {kind}}, false)
}

func TestCreateRoomRedirectsToIt(t *testing.T) {
	ts := newTestServer(t)
	ann := ts.joined(t, "ann@example.com")
	resp := createRoom(t, ts, ann, "Team Alpha!", "open")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/rooms/team-alpha" {
		t.Fatalf("create: %d to %q, want 303 to /rooms/team-alpha", resp.StatusCode, resp.Header.Get("Location"))
	}
	page := get(t, ann, ts.URL+"/rooms/team-alpha")
	if page.StatusCode != http.StatusOK {
		t.Fatalf("room page: %d", page.StatusCode)
	}
	doc := page.doc(t)
	if got := doc.Find("#composer").AttrOr("action", ""); got != "/rooms/team-alpha/messages" {
		t.Errorf("composer posts to %q", got)
	}
	if got := doc.Find("#messages").AttrOr("hx-sse:connect", ""); !strings.HasPrefix(got, "/rooms/team-alpha/events") {
		t.Errorf("the list streams from %q", got)
	}
	if doc.Find(`#rooms a[href="/rooms/team-alpha"]`).Length() != 1 {
		t.Error("the sidebar does not list the new room")
	}
}

func TestCreateRoomRefusesBadNames(t *testing.T) {
	ts := newTestServer(t)
	ann := ts.joined(t, "ann@example.com")
	createRoom(t, ts, ann, "taken", "open")
	for _, tc := range []struct{ name, want string }{
		{"", "Give the room a name."},
		{"   ", "Give the room a name."},
		{strings.Repeat("x", 81), "too long"},
		{"taken", "already a room called"},
		{"Taken", "already a room called"},
		{"general", "is taken"},
		{"!!!", "letter or digit"},
		{"evil\u202Eroom", "direction-changing"},
	} {
		resp := createRoom(t, ts, ann, tc.name, "open")
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(resp.body, tc.want) {
			t.Errorf("name %q: %d, want 422 saying %q", tc.name, resp.StatusCode, tc.want)
		}
	}
}

func TestRoomsNeedVerifiedIdentityInOpenMode(t *testing.T) {
	ts := newTestServer(t)
	ann := ts.joined(t, "ann@example.com")
	for _, resp := range []response{
		createRoom(t, ts, ann, "secret", "private"),
		post(t, ann, ts.URL+"/dm", url.Values{"email": {"bob@example.com"}}, false),
	} {
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.body, "verified address") {
			t.Errorf("%s: %d, want 403 with a sentence", resp.Request.URL.Path, resp.StatusCode)
		}
	}
	if page := get(t, ann, ts.URL+"/"); strings.Contains(page.body, `action="/dm"`) || strings.Contains(page.body, `value="private"`) {
		t.Error("open mode offers direct messages or private rooms")
	}
}

func TestRoomStreamCarriesOnlyItsRoom(t *testing.T) {
	ts := newTestServer(t)
	ann := ts.joined(t, "ann@example.com")
	bob := ts.joined(t, "bob@example.com")
	createRoom(t, ts, ann, "ops", "open")
	if resp := post(t, bob, ts.URL+"/rooms/ops/join", nil, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("join ops: %d", resp.StatusCode)
	}
	opsStream := openLive(t, bob, ts.URL+"/rooms/ops/events")
	generalStream := openLive(t, bob, ts.URL+"/events")

	post(t, ann, ts.URL+"/messages", url.Values{"message": {"in general"}}, false)
	if resp := post(t, ann, ts.URL+"/rooms/ops/messages", url.Values{"message": {"in ops"}}, false); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/rooms/ops" {
		t.Fatalf("post in ops: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := generalStream.nextData(t); !strings.Contains(got, "in general") {
		t.Errorf("general's stream: %q", got)
	}
	if got := opsStream.nextData(t); !strings.Contains(got, "in ops") {
		t.Errorf("ops' stream: %q", got)
	}
	post(t, ann, ts.URL+"/messages", url.Values{"message": {"second in general"}}, false)
	if got := generalStream.nextData(t); !strings.Contains(got, "second in general") {
		t.Errorf("general's stream carried %q, want only general's messages", got)
	}
	// ops' list shows ops' messages alone.
	page := get(t, bob, ts.URL+"/rooms/ops")
	if text := page.doc(t).Find("#messages li.msg").Text(); !strings.Contains(text, "in ops") || strings.Contains(text, "in general") {
		t.Errorf("ops' page shows %q", text)
	}
}

func TestPrivateAndDirectRoomsAreHiddenFromOthers(t *testing.T) {
	smtp, mode := emailSignIn(t)
	ts := newTestServer(t, mode)
	ann := signedIn(t, ts, smtp, "ann@example.com")
	bob := signedIn(t, ts, smtp, "bob@example.com")
	eve := signedIn(t, ts, smtp, "eve@example.com")

	created := createRoom(t, ts, ann, "Plans", "private")
	plans := created.Header.Get("Location")
	if created.StatusCode != http.StatusSeeOther || !regexp.MustCompile(`^/rooms/plans-[a-z0-9]{8}$`).MatchString(plans) {
		t.Fatalf("create private: %d to %q, want 303 to /rooms/plans- and a random end", created.StatusCode, plans)
	}
	// Making an open room of the same name says nothing of the private one.
	if resp := createRoom(t, ts, eve, "Plans", "open"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("eve making an open room Plans: %d", resp.StatusCode)
	}
	resp := post(t, ann, ts.URL+"/dm", url.Values{"email": {"bob@example.com"}}, false)
	dm := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(dm, "/rooms/dm-") {
		t.Fatalf("dm: %d to %q", resp.StatusCode, dm)
	}
	// The same pair, from the other side, is the same room.
	if again := post(t, bob, ts.URL+"/dm", url.Values{"email": {"ann@example.com"}}, false); again.Header.Get("Location") != dm {
		t.Errorf("bob's dm to ann is %q, ann's to bob %q", again.Header.Get("Location"), dm)
	}
	if resp := post(t, ann, ts.URL+dm+"/messages", url.Values{"message": {"just us"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("post in dm: %d", resp.StatusCode)
	}
	if page := get(t, bob, ts.URL+dm); page.StatusCode != http.StatusOK || !strings.Contains(page.body, "just us") {
		t.Errorf("bob's view of the dm: %d", page.StatusCode)
	}
	for _, u := range []string{dm, dm + "/events", plans, plans + "/events", "/rooms/no-such-room"} {
		if resp := get(t, eve, ts.URL+u); resp.StatusCode != http.StatusNotFound {
			t.Errorf("eve GET %s: %d, want 404", u, resp.StatusCode)
		}
	}
	if resp := post(t, eve, ts.URL+dm+"/messages", url.Values{"message": {"let me in"}}, false); resp.StatusCode != http.StatusNotFound {
		t.Errorf("eve posting in the dm: %d, want 404", resp.StatusCode)
	}
	// A direct conversation cannot be left, nor joined by a third.
	if resp := post(t, ann, ts.URL+dm+"/leave", nil, false); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("leaving the dm: %d, want 422", resp.StatusCode)
	}
	if page := get(t, ann, ts.URL+dm); strings.Contains(page.body, dm+"/leave") {
		t.Error("the dm's page offers to leave it")
	}
	// A member invites: then eve is in.
	if resp := post(t, ann, ts.URL+plans+"/members", url.Values{"email": {"eve@example.com"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("invite: %d", resp.StatusCode)
	}
	if resp := get(t, eve, ts.URL+plans); resp.StatusCode != http.StatusOK {
		t.Errorf("eve after the invitation: %d", resp.StatusCode)
	}
}

func TestUnreadCountsAndNewSinceLine(t *testing.T) {
	ts := newTestServer(t)
	ann := ts.joined(t, "ann@example.com")
	bob := ts.joined(t, "bob@example.com")
	createRoom(t, ts, ann, "ops", "open")
	post(t, bob, ts.URL+"/rooms/ops/join", nil, false)
	post(t, ann, ts.URL+"/rooms/ops/messages", url.Values{"message": {"first"}}, false)
	get(t, bob, ts.URL+"/rooms/ops") // bob reads it
	get(t, bob, ts.URL+"/")
	for _, m := range []string{"two", "three"} {
		post(t, ann, ts.URL+"/rooms/ops/messages", url.Values{"message": {m}}, false)
	}
	doc := get(t, bob, ts.URL+"/").doc(t)
	if got := strings.TrimSpace(doc.Find("#rooms .unread").Text()); got != "2" {
		t.Errorf("bob's sidebar counts %q unread, want 2", got)
	}
	if title := doc.Find("title").Text(); !strings.HasPrefix(title, "(2)") {
		t.Errorf("title %q does not count the unread", title)
	}
	doc = get(t, bob, ts.URL+"/rooms/ops").doc(t)
	line := doc.Find("#new-since")
	if line.Length() != 1 || !strings.Contains(line.Next().Text(), "two") {
		t.Errorf("the new-since line is not right above the first unread message: %q", line.Next().Text())
	}
	// Opening the room read it.
	if got := strings.TrimSpace(get(t, bob, ts.URL+"/").doc(t).Find("#rooms .unread").Text()); got != "" {
		t.Errorf("after reading ops, the sidebar still counts %q", got)
	}
}

func TestLeaveRoom(t *testing.T) {
	ts := newTestServer(t)
	ann := ts.joined(t, "ann@example.com")
	createRoom(t, ts, ann, "ops", "open")
	if resp := post(t, ann, ts.URL+"/rooms/general/leave", nil, false); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("leaving general: %d, want 422", resp.StatusCode)
	}
	if resp := post(t, ann, ts.URL+"/rooms/ops/leave", nil, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("leave ops: %d", resp.StatusCode)
	}
	doc := get(t, ann, ts.URL+"/").doc(t)
	if doc.Find(`#rooms a[href="/rooms/ops"]`).Length() != 1 {
		t.Error("after leaving, ops is not offered to browse")
	}
}

// dataLines collects every data line of the stream at u.
func dataLines(t *testing.T, c *http.Client, u string) <-chan string {
	t.Helper()
	resp := openEvents(t, c, u)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("open %s: %s", u, resp.Status)
	}
	lines := make(chan string, 1000)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data: ") {
				lines <- sc.Text()
			}
		}
	}()
	return lines
}

// waitForLine waits for a line containing every one of want.
func waitForLine(t *testing.T, lines <-chan string, what string, want ...string) string {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the stream ended before %s", what)
			}
			if all(l, want) {
				return l
			}
		case <-deadline:
			t.Fatalf("no %s within 5 s", what)
		}
	}
}

func all(s string, subs []string) bool {
	for _, w := range subs {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

func TestSidebarCountsGoLive(t *testing.T) {
	ts := newTestServer(t)
	ann := ts.joined(t, "ann@example.com")
	bob := ts.joined(t, "bob@example.com")
	createRoom(t, ts, ann, "ops", "open")
	post(t, bob, ts.URL+"/rooms/ops/join", nil, false)
	room, err := ts.store.Room(context.Background(), "ops")
	if err != nil {
		t.Fatal(err)
	}
	badge := fmt.Sprintf(`id="unread-%d"`, room.ID)
	general := dataLines(t, bob, ts.URL+"/events")
	waitForLine(t, general, "the first sidebar update", badge, `hx-swap-oob`)

	for _, m := range []string{"one", "two"} {
		post(t, ann, ts.URL+"/rooms/ops/messages", url.Values{"message": {m}}, false)
	}
	waitForLine(t, general, "a count of 2 for ops", badge, `>2</span>`)
	// Bob's own messages are not unread to him; reading the room clears it.
	post(t, bob, ts.URL+"/rooms/ops/messages", url.Values{"message": {"mine"}}, false)
	ms, err := ts.store.RoomRecentMessages(context.Background(), room.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if resp := post(t, bob, ts.URL+"/rooms/ops/read", url.Values{"id": {fmt.Sprint(ms[0].ID)}}, true); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("read: %d", resp.StatusCode)
	}
	waitForLine(t, general, "the count cleared", badge, `"unread" hx-swap-oob="true"></span>`)

	// A room Bob makes in another tab shows in this one's list.
	createRoom(t, ts, bob, "bobs room", "open")
	waitForLine(t, general, "the lists with the new room", `id="room-list"`, `/rooms/bobs-room`)
}

// TestMakingRoomsIsFloodControlled: one session making room after room (a
// script filling the room list) is refused with 429 and a sentence, the
// name it typed kept; so are reports of reading, past a few a second.
func TestMakingRoomsIsFloodControlled(t *testing.T) {
	ts := newTestServer(t)
	ann := ts.joined(t, "ann@example.com")
	var last response
	for i := range 25 {
		if last = createRoom(t, ts, ann, fmt.Sprint("room ", i), "open"); last.StatusCode != http.StatusSeeOther {
			break
		}
	}
	if last.StatusCode != http.StatusTooManyRequests || !strings.Contains(last.body, "too fast") || last.Header.Get("Retry-After") == "" {
		t.Fatalf("the 25th room in a row: %d, Retry-After %q, want 429 with a sentence", last.StatusCode, last.Header.Get("Retry-After"))
	}
	if !strings.Contains(last.body, `value="room `) {
		t.Error("the refused form lost the name typed")
	}
	// Another person is not held back.
	if resp := createRoom(t, ts, ts.joined(t, "bob@example.com"), "bobs", "open"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("another session's room: %d", resp.StatusCode)
	}

	post(t, ann, ts.URL+"/messages", url.Values{"message": {"hi"}}, false)
	id := fmt.Sprint(ts.messages(t)[0].ID)
	var status int
	for range 40 {
		if status = post(t, ann, ts.URL+"/rooms/general/read", url.Values{"id": {id}}, true).StatusCode; status != http.StatusNoContent {
			break
		}
	}
	if status != http.StatusTooManyRequests {
		t.Errorf("40 reports of reading at once: last %d, want 429", status)
	}
}

// downRooms is the message store with posts in rooms other than general
// failing as if the database were down.
type downRooms struct {
	handlers.MessageStore
	down atomic.Bool
}

func (d *downRooms) AddMessageIn(ctx context.Context, roomID int64, a store.Author, content, key string) (store.Message, error) {
	if d.down.Load() && roomID != store.GeneralID {
		return store.Message{}, errors.New("connection refused")
	}
	return d.MessageStore.AddMessageIn(ctx, roomID, a, content, key)
}

// TestFailedSendInARoomComesBackInTheComposer: a post in a room that the
// store cannot take, or that is empty, is answered with the room's own
// composer holding the text and saying why, as in general; the page
// without JavaScript is the room's.
func TestFailedSendInARoomComesBackInTheComposer(t *testing.T) {
	var rooms *downRooms
	ts := newTestServer(t, func(o *handlers.Options) {
		rooms = &downRooms{MessageStore: o.Store}
		o.Store = rooms
	})
	ann := ts.joined(t, "ann@example.com")
	createRoom(t, ts, ann, "ops", "open")
	const typed = "Kept <b>as typed</b> & whole"
	for _, tc := range []struct {
		name, text, reason string
		status             int
		down               bool
	}{
		{"store down", typed, "was not sent", http.StatusServiceUnavailable, true},
		{"empty", "  ", "Write a message", http.StatusUnprocessableEntity, false},
	} {
		for _, htmx := range []bool{true, false} {
			rooms.down.Store(tc.down)
			resp := post(t, ann, ts.URL+"/rooms/ops/messages", url.Values{"message": {tc.text}}, htmx)
			rooms.down.Store(false)
			if resp.StatusCode != tc.status {
				t.Fatalf("%s (htmx %v): %d, want %d", tc.name, htmx, resp.StatusCode, tc.status)
			}
			form := resp.doc(t).Find("form#composer")
			if form.AttrOr("action", "") != "/rooms/ops/messages" || form.Find("textarea#message").Text() != tc.text || !strings.Contains(form.Find("#message-error").Text(), tc.reason) {
				t.Errorf("%s (htmx %v): the composer posts to %q, holds %q, says %q", tc.name, htmx, form.AttrOr("action", ""), form.Find("textarea#message").Text(), form.Find("#message-error").Text())
			}
			if !htmx && !strings.Contains(resp.body, `href="/rooms/ops"`) {
				t.Errorf("%s: the page is not the room's", tc.name)
			}
		}
	}
	if ms, err := ts.store.RoomRecentMessages(context.Background(), 2, 10); err != nil || len(ms) != 0 {
		t.Errorf("stored %+v, %v", ms, err)
	}
}

// TestRoomNamesCannotImpersonate: a name in look-alike letters is refused,
// or is the name it looks like (and so taken).
func TestRoomNamesCannotImpersonate(t *testing.T) {
	ts := newTestServer(t)
	ann := ts.joined(t, "ann@example.com")
	createRoom(t, ts, ann, "Design", "open")
	for name, want := range map[string]string{
		"g\u0435neral": "look-alike", // a Cyrillic е
		"ｇｅｎｅｒａｌ":      "is taken",   // full-width
		"\U0001D403\U0001D41E\U0001D42C\U0001D422\U0001D420\U0001D427": "already a room", // mathematical bold "Design"
	} {
		if resp := createRoom(t, ts, ann, name, "open"); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(resp.body, want) {
			t.Errorf("name %q: %d, want 422 saying %q", name, resp.StatusCode, want)
		}
	}
}

// TestOpenModeHidesVerifiedRooms: with SIGN_IN=open anyone may be anyone,
// so the private rooms and direct conversations an address has (made while
// sign-in was by email) are neither listed nor opened, and a non-member is
// not told they exist.
func TestOpenModeHidesVerifiedRooms(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	secret, err := ts.store.CreateRoom(ctx, store.Room{Slug: "acquisition-1a2b3c4d", Name: "Acquisition", Kind: store.RoomPrivate, CreatedBy: "ann@example.com"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dm, err := ts.store.DirectRoom(ctx, "ann@example.com", "lawyer@example.com")
	if err != nil {
		t.Fatal(err)
	}
	ann := ts.joined(t, "ann@example.com")
	if page := get(t, ann, ts.URL+"/"); strings.Contains(page.body, "Acquisition") || strings.Contains(page.body, "lawyer@example.com") || strings.Contains(page.body, dm.Slug) {
		t.Error("open mode lists a private room or a direct conversation")
	}
	for _, r := range []store.Room{secret, dm} {
		if resp := get(t, ann, ts.URL+"/rooms/"+r.Slug); resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.body, "verified address") {
			t.Errorf("a member opening %s in open mode: %d, want 403 with a sentence", r.Slug, resp.StatusCode)
		}
		if resp := get(t, ts.joined(t, "eve@example.com"), ts.URL+"/rooms/"+r.Slug); resp.StatusCode != http.StatusNotFound {
			t.Errorf("a non-member opening %s: %d, want 404 like any missing room", r.Slug, resp.StatusCode)
		}
	}
}

// TestLeavingAPrivateRoomEndsItsStream: someone who leaves a private room
// stops receiving it at once, not when their connection next drops.
func TestLeavingAPrivateRoomEndsItsStream(t *testing.T) {
	smtp, mode := emailSignIn(t)
	ts := newTestServer(t, mode)
	ann := signedIn(t, ts, smtp, "ann@example.com")
	bob := signedIn(t, ts, smtp, "bob@example.com")
	plans := createRoom(t, ts, ann, "Plans", "private").Header.Get("Location")
	if resp := post(t, ann, ts.URL+plans+"/members", url.Values{"email": {"bob@example.com"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("invite: %d", resp.StatusCode)
	}
	s := openLive(t, bob, ts.URL+plans+"/events")
	post(t, ann, ts.URL+plans+"/messages", url.Values{"message": {"before he left"}}, false)
	if got := s.nextData(t); !strings.Contains(got, "before he left") {
		t.Fatalf("bob's stream: %q", got)
	}
	if resp := post(t, bob, ts.URL+plans+"/leave", nil, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("leave: %d", resp.StatusCode)
	}
	ended(t, s, "bob's stream of the private room he left")
}
