package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/chatzilla/chatzilla/handlers"
	"github.com/chatzilla/chatzilla/store"
)

// copyOf is a second browser holding a copy of c's cookies, as someone who
// saved them would.
func (ts *testServer) copyOf(t *testing.T, c *http.Client) *http.Client {
	t.Helper()
	u, _ := url.Parse(ts.URL)
	cp := ts.client(t)
	cp.Jar.SetCookies(u, c.Jar.Cookies(u))
	return cp
}

// ended waits up to a second for the server to end a stream.
func ended(t *testing.T, s *liveStream, what string) {
	t.Helper()
	deadline := time.After(time.Second)
	for {
		select {
		case _, open := <-s.lines:
			if !open {
				return
			}
		case <-deadline:
			t.Fatalf("%s: still open a second after leaving", what)
		}
	}
}

// refused checks that c is no longer joined: the stream and the send path
// answer 401, and the page is the join form.
func (ts *testServer) refused(t *testing.T, c *http.Client, what string) {
	t.Helper()
	if resp := openEvents(t, c, ts.URL+"/events"); resp.StatusCode != http.StatusUnauthorized {
		resp.Body.Close()
		t.Errorf("%s: stream %d, want 401", what, resp.StatusCode)
	}
	if resp := post(t, c, ts.URL+"/messages", url.Values{"message": {"still here?"}}, true); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("%s: send %d, want 401", what, resp.StatusCode)
	}
	if resp := get(t, c, ts.URL+"/"); resp.doc(t).Find(`form[action="/join"]`).Length() != 1 {
		t.Errorf("%s: the page is not the join form", what)
	}
}

func TestLeaveEndsTheSessionOnTheServer(t *testing.T) {
	ts := newTestServer(t)
	c := ts.joined(t, "bob@example.com")
	saved := ts.copyOf(t, c)
	stream := openLive(t, saved, ts.URL+"/events")
	other := ts.joined(t, "bob@example.com") // the same address in another browser
	otherStream := openLive(t, other, ts.URL+"/events")

	if resp := post(t, c, ts.URL+"/leave", nil, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("leave: %d", resp.StatusCode)
	}
	ended(t, stream, "the saved copy's stream")
	ts.refused(t, saved, "saved copy of the cookie")
	if ms := ts.messages(t); len(ms) != 0 {
		t.Errorf("stored after leaving: %+v", ms)
	}
	// Only that session ended.
	if resp := post(t, other, ts.URL+"/messages", url.Values{"message": {"hi"}}, true); resp.StatusCode != http.StatusOK {
		t.Errorf("another session of the same address: %d, want 200", resp.StatusCode)
	}
	if line := otherStream.nextData(t); line == "" {
		t.Error("the other session's stream ended")
	}
}

func TestLeaveOnEveryDevice(t *testing.T) {
	ts := newTestServer(t)
	phone, laptop := ts.joined(t, "bob@example.com"), ts.joined(t, "bob@example.com")
	ann := ts.joined(t, "ann@example.com")
	laptopStream := openLive(t, laptop, ts.URL+"/events")
	annStream := openLive(t, ann, ts.URL+"/events")

	if resp := post(t, phone, ts.URL+"/leave", url.Values{"everywhere": {"true"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("leave everywhere: %d", resp.StatusCode)
	}
	ended(t, laptopStream, "the laptop's stream")
	ts.refused(t, laptop, "laptop")
	ts.refused(t, phone, "phone")
	if resp := post(t, ann, ts.URL+"/messages", url.Values{"message": {"still here"}}, true); resp.StatusCode != http.StatusOK {
		t.Errorf("someone else: %d, want 200", resp.StatusCode)
	}
	if line := annStream.nextData(t); line == "" {
		t.Error("someone else's stream ended")
	}
}

func TestChatPageOffersLeaveOnEveryDevice(t *testing.T) {
	ts := newTestServer(t)
	d := get(t, ts.joined(t, "bob@example.com"), ts.URL+"/").doc(t)
	form := d.Find(`form[method="post"][action="/leave"]`)
	if form.Find(`button[type="submit"]:not([name])`).Text() != "Leave" {
		t.Error("no Leave button")
	}
	if form.Find(`button[type="submit"][name="everywhere"][value="true"]`).Text() != "Leave on every device" {
		t.Error("no Leave on every device button")
	}
}

// TestSessionCookieWrittenBeforeStillWorks: cookies are now written as JSON
// (gob compiled a decoder per request); one written as gob by an earlier
// build, with the same secret, still means the same session.
func TestSessionCookieWrittenBeforeStillWorks(t *testing.T) {
	ts := newTestServer(t)
	c := ts.joined(t, "ann@example.com")
	u, _ := url.Parse(ts.URL)
	cookies := c.Jar.Cookies(u)
	current := handlers.NewSessionStore(strings.Repeat("k", 32))
	var values map[any]any
	var name string
	for _, ck := range cookies {
		if err := securecookie.DecodeMulti(ck.Name, ck.Value, &values, current.Codecs...); err == nil {
			name = ck.Name
			break
		}
	}
	if values["id"] == nil {
		t.Fatalf("no session cookie among %v", cookies)
	}
	earlier := handlers.NewSessionStore(strings.Repeat("k", 32))
	for _, codec := range earlier.Codecs {
		codec.(*securecookie.SecureCookie).SetSerializer(securecookie.GobEncoder{})
	}
	value, err := securecookie.EncodeMulti(name, values, earlier.Codecs...)
	if err != nil {
		t.Fatal(err)
	}
	old := ts.client(t)
	old.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
	if page := get(t, old, ts.URL+"/"); !strings.Contains(page.body, `id="composer"`) {
		t.Error("a session cookie written as gob no longer signs in")
	}
}

// staleTouches reports every session as last seen two minutes ago, so each
// request touches it, and holds each touch until release is closed.
type staleTouches struct {
	handlers.SessionRecords
	release chan struct{}
	touched chan string
}

func (s *staleTouches) Session(ctx context.Context, id string) (store.Session, error) {
	sess, err := s.SessionRecords.Session(ctx, id)
	sess.LastSeen = time.Now().Add(-2 * time.Minute)
	return sess, err
}

func (s *staleTouches) TouchSession(ctx context.Context, id string) error {
	<-s.release
	s.touched <- id
	return s.SessionRecords.TouchSession(ctx, id)
}

// A session's "last seen" is written after the answer, and counted as
// background work, which the program waits for before closing the store.
func TestSessionTouchedInTheBackground(t *testing.T) {
	var background sync.WaitGroup
	rec := &staleTouches{release: make(chan struct{}), touched: make(chan string, 10)}
	ts := newTestServer(t, func(o *handlers.Options) {
		rec.SessionRecords = o.SessionRecords
		o.SessionRecords, o.Background = rec, &background
	})
	c := ts.joined(t, "ann@example.com")
	resp, err := c.Get(ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / while the touch waits: %d", resp.StatusCode)
	}
	waited := make(chan struct{})
	go func() { background.Wait(); close(waited) }()
	select {
	case <-waited:
		t.Fatal("Background.Wait returned while a touch was still running")
	case <-time.After(50 * time.Millisecond):
	}
	close(rec.release)
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Fatal("Background.Wait did not return once the touch could finish")
	}
	if len(rec.touched) == 0 {
		t.Fatal("the stale session was not touched")
	}
}
