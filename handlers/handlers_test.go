package handlers_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/labstack/echo/v4"

	"github.com/chatzilla/chatzilla/assets"
	"github.com/chatzilla/chatzilla/handlers"
	"github.com/chatzilla/chatzilla/hub"
	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/store/storetest"
	"github.com/chatzilla/chatzilla/stream"
)

// testServer is the real handler over a real SQLite store, served on loopback.
type testServer struct {
	*httptest.Server
	store *store.SQLite
	live  *stream.Pipeline
	hub   *hub.Hub
	echo  *echo.Echo
}

// defaultLimits are the production defaults.
var defaultLimits = handlers.Limits{
	FloodControl:      true,
	MessagesPerSecond: 5, MessageBurst: 20,
	JoinsPerSecond: 1, JoinBurst: 10,
	MaxStreams: 50000, MaxStreamsPerSession: 10,
}

// newTestServer builds the server as run does, with the live pipeline.
// Each of adjust is a func(*handlers.Options) or a func(*stream.Config).
func newTestServer(t testing.TB, adjust ...any) *testServer {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), storetest.SQLitePath(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	files, err := assets.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	cfg := stream.Config{Broker: st, History: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Unverified: true, Names: st.DisplayNames, Members: st.RoomMembers, Rooms: st.RoomsOfMany, Changes: st}
	for _, f := range adjust {
		if f, ok := f.(func(*stream.Config)); ok {
			f(&cfg)
		}
	}
	live := stream.NewPipeline(cfg)
	stopLive, err := live.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopLive)
	o := handlers.Options{
		Store:            st,
		Rooms:            st,
		Live:             live,
		Sessions:         handlers.NewSessionStore(strings.Repeat("k", 32)),
		SessionRecords:   st,
		SignIn:           st,
		People:           st,
		Assets:           files,
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		HistorySize:      100,
		MaxMessageLength: 2000,
		Limits:           defaultLimits,
	}
	for _, f := range adjust {
		switch f := f.(type) {
		case func(*handlers.Options):
			f(&o)
		case func(*stream.Config):
		default:
			t.Fatalf("newTestServer: cannot adjust with a %T", f)
		}
	}
	e := handlers.New(o)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	t.Cleanup(live.Close) // ends open streams so srv.Close does not wait on them
	return &testServer{Server: srv, store: st, live: live, hub: live.Hub(), echo: e}
}

// client is one person's browser: it keeps cookies and does not follow
// redirects, so tests see the 303s.
func (ts *testServer) client(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// rawStreamRequest is GET /events as c sends it, written by hand for tests
// that hold bare connections: the address to dial, and the request with
// extra's header lines (each ending in \r\n) after the cookie.
func (ts *testServer) rawStreamRequest(c *http.Client, extra string) (addr string, request []byte) {
	u, _ := url.Parse(ts.URL)
	return u.Host, fmt.Appendf(nil, "GET /events HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\n%s\r\n", u.Host, c.Jar.Cookies(u)[0].String(), extra)
}

// joined is a client that has joined as email.
func (ts *testServer) joined(t testing.TB, email string) *http.Client {
	t.Helper()
	c := ts.client(t)
	resp := post(t, c, ts.URL+"/join", url.Values{"email": {email}}, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("join as %s: status %d", email, resp.StatusCode)
	}
	return c
}

type response struct {
	*http.Response
	body string
}

func (r response) doc(t *testing.T) *goquery.Document {
	t.Helper()
	d, err := goquery.NewDocumentFromReader(strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func do(t testing.TB, c *http.Client, req *http.Request) response {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp, string(b)}
}

func get(t *testing.T, c *http.Client, u string) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Accept", "text/html")
	return do(t, c, req)
}

func post(t testing.TB, c *http.Client, u string, form url.Values, htmx bool) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	if htmx {
		req.Header.Set("HX-Request", "true")
	}
	return do(t, c, req)
}

func (ts *testServer) messages(t *testing.T) []store.Message {
	t.Helper()
	ms, err := ts.store.RecentMessages(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestHomeNotJoinedShowsJoinForm(t *testing.T) {
	ts := newTestServer(t)
	resp := get(t, ts.client(t), ts.URL+"/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	d := resp.doc(t)
	if got := d.Find("title").Text(); got != "Chatzilla" {
		t.Errorf("title %q", got)
	}
	if got := d.Find("h1").Text(); got != "Welcome to Chatzilla" {
		t.Errorf("h1 %q", got)
	}
	form := d.Find(`form[method="post"][action="/join"]`)
	if form.Length() != 1 {
		t.Fatalf("no join form in %s", resp.body)
	}
	if form.Find(`input[type="email"][name="email"][required]`).Length() != 1 {
		t.Error("join form lacks a required email input")
	}
	if !strings.Contains(form.Find("label").Text(), "Type your email to join the chat") {
		t.Errorf("label %q", form.Find("label").Text())
	}
	if form.Find(`button[type="submit"]`).Text() != "Join" {
		t.Error("no Join button")
	}
	if d.Find("#messages").Length() != 0 {
		t.Error("message list shown to someone who has not joined")
	}
}

func TestJoinedHomeShowsHistoryComposerAndStream(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	for _, text := range []string{"first", "second <i>x</i>", "third"} {
		if _, err := ts.store.AddMessage(ctx, "ann@example.com", text); err != nil {
			t.Fatal(err)
		}
	}
	resp := get(t, ts.joined(t, "bob@example.com"), ts.URL+"/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	d := resp.doc(t)
	if !strings.Contains(d.Find("header").Text(), "bob@example.com") {
		t.Error("page does not say who you are")
	}
	list := d.Find("ul#messages")
	if got, _ := list.Attr("hx-sse:connect"); got != "/events?after=3" {
		t.Errorf("stream URL %q, want /events?after=3", got)
	}
	var items []string
	list.Find("li").Each(func(_ int, li *goquery.Selection) { items = append(items, messageText(li)) })
	want := []string{"ann@example.com: first", "ann@example.com: second <i>x</i>", "ann@example.com: third"}
	if strings.Join(items, "|") != strings.Join(want, "|") {
		t.Errorf("history %q, want %q", items, want)
	}
	// The page renders each message as the stream does: the second follows
	// on from the first, in its group.
	if !strings.Contains(resp.body, `<li id="m-2" class="msg av-5 cont" data-initials="A" data-name="ann"><b><bdi>ann@example.com</bdi></b>: <bdi>second &lt;i&gt;x&lt;/i&gt;</bdi><time datetime="`) {
		t.Errorf("message 2 not rendered as the stream fragment:\n%s", resp.body)
	}
	if d.Find(`form[method="post"][action="/messages"] textarea[name="message"][required]`).Length() != 1 {
		t.Error("no composer")
	}
	if d.Find(`form[method="post"][action="/leave"] button:not([name])`).Length() != 1 {
		t.Error("no leave button")
	}
}

func TestHistoryShowsLatestOldestFirst(t *testing.T) {
	ts := newTestServer(t)
	for i := range 105 {
		if _, err := ts.store.AddMessage(context.Background(), "ann@example.com", "n"+strings.Repeat("!", i%3)); err != nil {
			t.Fatal(err)
		}
	}
	d := get(t, ts.joined(t, "bob@example.com"), ts.URL+"/").doc(t)
	items := d.Find(`#messages li[id^="m-"]`)
	if items.Length() != 100 {
		t.Fatalf("%d items, want 100", items.Length())
	}
	if href, _ := d.Find("#messages li#older a").Attr("href"); href != "/?before=6" {
		t.Errorf("load older link %q, want /?before=6", href)
	}
	if id, _ := items.First().Attr("id"); id != "m-6" {
		t.Errorf("first item %s, want m-6", id)
	}
	if id, _ := items.Last().Attr("id"); id != "m-105" {
		t.Errorf("last item %s, want m-105", id)
	}
}

// messageText is a message as read on the page, without its time.
func messageText(li *goquery.Selection) string {
	c := li.Clone()
	c.Find("time").Remove()
	return c.Text()
}

// The reader of a page is online, though neither their stream nor (without
// JavaScript) their page's visit has reached the roster yet: the page's
// who's-online lists them from the start, as it will a tick later.
func TestPageListsItsReaderAsOnline(t *testing.T) {
	ts := newTestServer(t)
	ann := ts.joined(t, "ann@example.com")
	people := get(t, ann, ts.URL+"/").doc(t).Find("#people")
	if got := people.Find("h2 .count").Text(); got != "1" || !strings.Contains(people.Text(), "ann@example.com") {
		t.Errorf("Ann's page says Online %q:\n%s", got, people.Text())
	}
}
