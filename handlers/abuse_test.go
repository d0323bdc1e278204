package handlers_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/handlers"
	"github.com/chatzilla/chatzilla/hub"
	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/stream"
)

// lockedBuffer is a log that tests read while the server writes it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func logTo(logs *lockedBuffer) func(*handlers.Options) {
	return func(o *handlers.Options) { o.Logger = slog.New(slog.NewTextHandler(logs, nil)) }
}

func waitForLog(t *testing.T, logs *lockedBuffer, want string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), want); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the log does not say %s:\n%s", want, logs)
		}
	}
}

// TestStreamEndsSayWhy: each way a stream ends is logged as what it is.
func TestStreamEndsSayWhy(t *testing.T) {
	t.Run("client left", func(t *testing.T) {
		logs := &lockedBuffer{}
		ts := newTestServer(t, logTo(logs))
		resp := openEvents(t, ts.joined(t, "ann@example.com"), ts.URL+"/events")
		waitFor(t, func() bool { return ts.live.Streams() == 1 }, "the stream to open")
		resp.Body.Close()
		waitForLog(t, logs, `reason="client left"`)
	})
	t.Run("session ended", func(t *testing.T) {
		logs := &lockedBuffer{}
		ts := newTestServer(t, logTo(logs))
		c := ts.joined(t, "ann@example.com")
		openEvents(t, c, ts.URL+"/events")
		openEvents(t, c, ts.URL+"/events")
		waitFor(t, func() bool { return ts.live.Streams() == 2 }, "two tabs' streams to open")
		post(t, c, ts.URL+"/leave", nil, false)
		waitFor(t, func() bool { return ts.live.Streams() == 0 }, "leaving to end both tabs' streams")
		for deadline := time.Now().Add(5 * time.Second); strings.Count(logs.String(), `reason="session ended"`) != 2; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("want both streams ended as the session ended:\n%s", logs)
			}
		}
	})
	t.Run("shutting down", func(t *testing.T) {
		logs := &lockedBuffer{}
		ts := newTestServer(t, logTo(logs), func(c *stream.Config) { c.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
		openEvents(t, ts.joined(t, "ann@example.com"), ts.URL+"/events")
		waitFor(t, func() bool { return ts.live.Streams() == 1 }, "the stream to open")
		// Waiting without a shutdown says nothing of one.
		early, cancelEarly := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancelEarly()
		if err := ts.live.Wait(early); err == nil {
			t.Fatal("Wait returned before Close, with a stream open")
		}
		ts.live.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for range 2 { // the second Wait does not say it again
			if err := ts.live.Wait(ctx); err != nil {
				t.Fatal(err)
			}
		}
		// One line for every stream the shutdown ended, not one each, and
		// once.
		waitForLog(t, logs, `msg="streams disconnected" reason="shutting down" streams=1`)
		if n := strings.Count(logs.String(), `msg="streams disconnected"`); n != 1 {
			t.Errorf("%d lines for the shutdown's streams, want 1:\n%s", n, logs)
		}
		waitFor(t, func() bool { return ts.live.Streams() == 0 }, "the stream to be done") // its own line would be written by then
		if strings.Contains(logs.String(), `msg="stream disconnected"`) {
			t.Errorf("a stream ended by the shutdown was logged on its own line:\n%s", logs)
		}
	})
	t.Run("too slow", func(t *testing.T) {
		logs := &lockedBuffer{}
		ts := newTestServer(t, logTo(logs), func(c *stream.Config) { c.WriteTimeout = 200 * time.Millisecond })
		addr, request := ts.rawStreamRequest(ts.joined(t, "slow@example.com"), "")
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Write(request)
		waitFor(t, func() bool { return ts.live.Streams() == 1 }, "the stalled stream to subscribe")
		frame := []byte("id: 1\ndata: " + strings.Repeat("x", 64<<10) + "\n\n")
		for i := 0; i < 400 && ts.live.Streams() > 0; i++ { // more than loopback buffers hold
			ts.hub.Publish(hub.Event{ID: int64(i + 1), Frame: frame})
			time.Sleep(time.Millisecond)
		}
		waitForLog(t, logs, `reason="too slow`)
		if strings.Contains(logs.String(), `reason="client left"`) {
			t.Errorf("a reader too slow was logged as a client that left:\n%s", logs)
		}
	})
}

// TestSlowOrAbandonedBodyIsNotAServerError: a client that sends its form
// too slowly gets a 408 and is logged below ERROR; one that gives up half
// way is not an error at all.
func TestSlowOrAbandonedBodyIsNotAServerError(t *testing.T) {
	logs := &lockedBuffer{}
	ts := newTestServer(t, logTo(logs))
	c := ts.joined(t, "bob@example.com")
	// The same handler, behind a server with a short read timeout.
	slowServer := httptest.NewUnstartedServer(ts.Config.Handler)
	slowServer.Config.ReadTimeout = 300 * time.Millisecond
	slowServer.Start()
	defer slowServer.Close()
	u, _ := url.Parse(slowServer.URL)
	c.Jar.SetCookies(u, c.Jar.Cookies(mustParse(ts.URL)))
	cookie := c.Jar.Cookies(u)[0].String()
	send := func() net.Conn {
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		fmt.Fprintf(conn, "POST /messages HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nmessage=hel", u.Host, cookie)
		return conn
	}

	slow := send() // and then nothing, past the read timeout
	slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(slow), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("slow body: %d, want 408", resp.StatusCode)
	}
	waitForLog(t, logs, `msg="request too slow"`)

	send().Close() // gives up half way
	waitForLog(t, logs, `msg="client left before the answer"`)

	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("a client's slowness was logged as a server error:\n%s", logs)
	}
	if ms := ts.messages(t); len(ms) != 0 {
		t.Errorf("stored %+v from bodies that never arrived", ms)
	}
}

// TestHealthzFailsWhileWritesFail: reads work, writes do not (as with a
// full disk or a database turned read-only): /healthz says so, and is
// healthy again once writes work.
func TestHealthzFailsWhileWritesFail(t *testing.T) {
	var flaky *readOnlyStore
	ts := newTestServer(t, func(o *handlers.Options) {
		flaky = &readOnlyStore{MessageStore: o.Store}
		o.Store = flaky
	})
	c := ts.joined(t, "bob@example.com")
	health := func() int { return get(t, ts.client(t), ts.URL+"/healthz").StatusCode }
	if s := health(); s != http.StatusOK {
		t.Fatalf("healthy: %d", s)
	}
	flaky.writesFail.Store(true)
	if resp := post(t, c, ts.URL+"/messages", url.Values{"message": {"hi"}, "key": {composerKey(t, get(t, c, ts.URL+"/"))}}, true); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("post while writes fail: %d", resp.StatusCode)
	}
	if s := health(); s != http.StatusServiceUnavailable {
		t.Errorf("while writes fail: %d, want 503", s)
	}
	flaky.writesFail.Store(false)
	if resp := post(t, c, ts.URL+"/messages", url.Values{"message": {"back"}, "key": {composerKey(t, get(t, c, ts.URL+"/"))}}, true); resp.StatusCode != http.StatusOK {
		t.Fatalf("post once writes work: %d", resp.StatusCode)
	}
	if s := health(); s != http.StatusOK {
		t.Errorf("once writes work again: %d, want 200", s)
	}
}

// TestHealthzCallerLeavingIsNotAFailure: a caller that gives up on
// /healthz while its trial write is under way (a probe's timeout, a load
// tool's poll during a restart) does not make the check log the store as
// failing, nor make the next check answer 503: the write runs to its end
// and what is recorded is the store's answer.
func TestHealthzCallerLeavingIsNotAFailure(t *testing.T) {
	var slow *slowWriteCheck
	logs := &lockedBuffer{}
	ts := newTestServer(t, logTo(logs), func(o *handlers.Options) {
		slow = &slowWriteCheck{MessageStore: o.Store, release: make(chan struct{}), done: make(chan error, 1)}
		o.Store = slow
	})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/healthz", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := ts.client(t).Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("/healthz answered %d before its trial write was let through", resp.StatusCode)
	}
	// Give the server time to see the caller gone: a check cut short by
	// that would end now, before the store answers.
	select {
	case err := <-slow.done:
		t.Fatalf("the trial write ended with its caller, before the store answered: %v", err)
	case <-time.After(time.Second):
	}
	close(slow.release) // the store answers now
	select {
	case err := <-slow.done:
		if err != nil {
			t.Fatalf("the trial write, once let through: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the trial write did not end 5 s after the store answered")
	}
	if resp := get(t, ts.client(t), ts.URL+"/healthz"); resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz after a caller left mid-check: %d, want 200", resp.StatusCode)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("a caller leaving was logged as the store failing:\n%s", logs)
	}
}

// slowWriteCheck is the real store whose trial writes (CheckWrite) wait
// for release, or for their context to end; done gets each one's result.
type slowWriteCheck struct {
	handlers.MessageStore
	release chan struct{}
	done    chan error
}

func (s *slowWriteCheck) CheckWrite(ctx context.Context) error {
	var err error
	select {
	case <-s.release:
		err = s.MessageStore.(interface{ CheckWrite(context.Context) error }).CheckWrite(ctx)
	case <-ctx.Done():
		err = ctx.Err()
	}
	select {
	case s.done <- err:
	default:
	}
	return err
}

func mustParse(raw string) *url.URL {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	return u
}

// readOnlyStore is the real store with a switch that makes writes fail
// while reads still work.
type readOnlyStore struct {
	handlers.MessageStore
	writesFail atomic.Bool
}

func (r *readOnlyStore) AddMessageIn(ctx context.Context, roomID int64, a store.Author, content, key string) (store.Message, error) {
	if r.writesFail.Load() {
		return store.Message{}, errors.New("attempt to write a readonly database")
	}
	return r.MessageStore.AddMessageIn(ctx, roomID, a, content, key)
}

// TestFarBehindStreamIsToldToReload: a stream never replays more than
// MaxReplay messages; a page further behind gets the reload event and then
// the live messages.
func TestFarBehindStreamIsToldToReload(t *testing.T) {
	ts := newTestServer(t, func(c *stream.Config) { c.MaxReplay = 10 })
	for i := range 25 {
		if _, err := ts.store.AddMessage(context.Background(), "ann@example.com", fmt.Sprint("m", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	c := ts.joined(t, "bob@example.com")

	near := rawEvents(t, c, ts.URL+"/events?after=15")
	if got := near.until(t, "id: 25"); strings.Count(got, "id: ") != 10 || strings.Contains(got, "chatzilla-reload") {
		t.Errorf("10 behind: want the 10 messages replayed, got:\n%s", got)
	}

	far := rawEvents(t, c, ts.URL+"/events?after=14")
	got := far.until(t, "event: chatzilla-reload\n")
	if strings.Contains(got, "id: ") || !strings.Contains(got, "event: chatzilla-reload\ndata: <li class=\"notice reload\"><a href=\"/\">") {
		t.Errorf("11 behind: want the reload event and nothing replayed, got:\n%s", got)
	}
	if _, err := ts.store.AddMessage(context.Background(), "ann@example.com", "live"); err != nil {
		t.Fatal(err)
	}
	if next := far.until(t, "id: 26"); strings.Count(next, "id: ") != 1 {
		t.Errorf("after the reload event, want only the live message, got:\n%s", next)
	}
}

// rawStream reads a stream's text as it comes.
type rawStream struct{ r *bufio.Reader }

func rawEvents(t *testing.T, c *http.Client, u string) *rawStream {
	t.Helper()
	resp := openEvents(t, c, u)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	return &rawStream{bufio.NewReader(resp.Body)}
}

// until reads until the text read contains want (and the event it is in
// has ended), failing if the stream ends first.
func (s *rawStream) until(t *testing.T, want string) string {
	t.Helper()
	var b strings.Builder
	for !strings.Contains(b.String(), want) || !strings.HasSuffix(b.String(), "\n\n") {
		line, err := s.r.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			t.Fatalf("stream ended before %q; read:\n%s", want, b.String())
		}
	}
	return b.String()
}

// TestStreamOpensAreRateLimited: a session that opens stream after stream
// (for the replay, or in a loop) gets its burst and then 429s with
// Retry-After; another session is not affected.
func TestStreamOpensAreRateLimited(t *testing.T) {
	ts := newTestServer(t, func(o *handlers.Options) {
		o.Limits.StreamOpensPerSecond = 0.01
		o.Limits.StreamOpenBurst = 5
		o.Limits.MaxStreamsPerAddress = 500
	})
	c := ts.joined(t, "loop@example.com")
	for i := range 5 {
		resp := openEvents(t, c, ts.URL+"/events?after=0")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("open %d: %d", i, resp.StatusCode)
		}
		resp.Body.Close()
	}
	resp := openEvents(t, c, ts.URL+"/events?after=0")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("6th open: %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp := openEvents(t, ts.joined(t, "other@example.com"), ts.URL+"/events"); resp.StatusCode != http.StatusOK {
		t.Errorf("another session: %d", resp.StatusCode)
	}
}

// TestStreamsPerAddressAreCapped: fresh sessions do not get around the cap
// on one address's streams; another address still gets in.
func TestStreamsPerAddressAreCapped(t *testing.T) {
	ts := newTestServer(t, func(o *handlers.Options) {
		o.TrustProxy = true
		o.Limits.MaxStreamsPerAddress = 4
	})
	open := func(c *http.Client, ip string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/events", nil)
		req.Header.Set("X-Forwarded-For", ip)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	for i := range 4 {
		if resp := open(ts.joined(t, fmt.Sprintf("s%d@example.com", i)), "2001:db8::1"); resp.StatusCode != http.StatusOK {
			t.Fatalf("stream %d: %d", i, resp.StatusCode)
		}
	}
	// The same /64, a fresh session.
	resp := open(ts.joined(t, "s9@example.com"), "2001:db8::99")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("5th stream from one /64: %d, want 503 with Retry-After", resp.StatusCode)
	}
	if resp := open(ts.joined(t, "elsewhere@example.com"), "203.0.113.9"); resp.StatusCode != http.StatusOK {
		t.Errorf("another address: %d", resp.StatusCode)
	}
}
