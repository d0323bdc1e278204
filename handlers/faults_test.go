package handlers_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/handlers"
	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/stream"
)

// flakyStore is the real store with a switch that makes every call fail, as
// when the database is down or unreachable.
type flakyStore struct {
	handlers.MessageStore
	down   atomic.Bool
	broken atomic.Bool // reads panic, as a bug in a driver would
	// laterPagesFail: reading messages after any but the first fails.
	laterPagesFail atomic.Bool
}

var errDown = errors.New("connection refused")

func (f *flakyStore) AddMessageIn(ctx context.Context, roomID int64, a store.Author, content, key string) (store.Message, error) {
	if f.down.Load() {
		return store.Message{}, errDown
	}
	return f.MessageStore.AddMessageIn(ctx, roomID, a, content, key)
}

func (f *flakyStore) RoomRecentMessages(ctx context.Context, roomID int64, limit int) ([]store.Message, error) {
	if f.broken.Load() {
		panic("store driver bug")
	}
	if f.down.Load() {
		return nil, errDown
	}
	return f.MessageStore.RoomRecentMessages(ctx, roomID, limit)
}

func (f *flakyStore) RoomMessagesAfter(ctx context.Context, roomID, afterID int64, limit int) ([]store.Message, error) {
	if f.broken.Load() {
		panic("store driver bug")
	}
	if f.down.Load() || (f.laterPagesFail.Load() && afterID > 0) {
		return nil, errDown
	}
	return f.MessageStore.RoomMessagesAfter(ctx, roomID, afterID, limit) // the real store replays too
}

func (f *flakyStore) Ping(ctx context.Context) error {
	if f.down.Load() {
		return errDown
	}
	return f.MessageStore.Ping(ctx)
}

func TestStoreDown(t *testing.T) {
	var flaky *flakyStore
	ts := newTestServer(t, func(o *handlers.Options) {
		flaky = &flakyStore{MessageStore: o.Store}
		o.Store = flaky
	})
	c := ts.joined(t, "bob@example.com")
	s := openLive(t, c, ts.URL+"/events")

	flaky.down.Store(true)
	resp := post(t, c, ts.URL+"/messages", url.Values{"message": {"lost?"}}, true)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(resp.body, "was not sent") {
		t.Errorf("post while the store is down: %d %q\n%s", resp.StatusCode, resp.Header.Get("Retry-After"), resp.body)
	}
	if strings.Contains(resp.body, errDown.Error()) {
		t.Error("the store's error reached the page")
	}
	if resp := post(t, c, ts.URL+"/messages", url.Values{"message": {"lost?"}}, false); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("plain post while the store is down: %d", resp.StatusCode)
	}
	if resp := get(t, c, ts.URL+"/"); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(resp.body, "load the messages right now") {
		t.Errorf("page while the store is down: %d\n%s", resp.StatusCode, resp.body)
	}
	if resp := get(t, c, ts.URL+"/healthz"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("healthz while the store is down: %d", resp.StatusCode)
	}

	flaky.down.Store(false)
	if resp := post(t, c, ts.URL+"/messages", url.Values{"message": {"back"}}, true); resp.StatusCode != http.StatusOK {
		t.Fatalf("post after recovery: %d", resp.StatusCode)
	}
	// The stream stayed up through the outage and carries the next message.
	if line := s.nextData(t); !strings.Contains(line, "bob@example.com</bdi></b>: <bdi>back") {
		t.Errorf("stream after recovery: %q", line)
	}
	if ms := ts.messages(t); len(ms) != 1 || ms[0].Content != "back" {
		t.Errorf("stored %+v, want only the message sent after recovery", ms)
	}
}

type liveStream struct{ lines chan string }

// openLive opens the stream at u and collects its messages' data lines.
func openLive(t *testing.T, c *http.Client, u string) *liveStream {
	t.Helper()
	resp := openEvents(t, c, u)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("open stream: %s %s", resp.Status, b)
	}
	s := &liveStream{lines: make(chan string, 100)}
	go func() {
		defer resp.Body.Close()
		buf := make([]byte, 64<<10)
		var pending string
		for {
			n, err := resp.Body.Read(buf)
			pending += string(buf[:n])
			for {
				line, rest, ok := strings.Cut(pending, "\n")
				if !ok {
					break
				}
				pending = rest
				if strings.HasPrefix(line, "data: <li id=\"m-") { // messages, not presence
					s.lines <- line
				}
			}
			if err != nil {
				close(s.lines)
				return
			}
		}
	}()
	return s
}

func (s *liveStream) nextData(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-s.lines:
		if !ok {
			t.Fatal("stream ended")
		}
		return l
	case <-time.After(2 * time.Second):
		t.Fatal("no event within 2s")
	}
	return ""
}

// TestFailedReplayIsRefusedAndFreesItsPlace opens streams whose replay
// fails. When the first read fails, with an error or a panic, nothing has
// been answered yet: the stream is refused with 503, Retry-After and a
// sentence, rather than answered 200 and closed. When a later page fails,
// after the 200, the stream ends. Either way it gives back its place, so
// that the browser's reconnect is let in.
func TestFailedReplayIsRefusedAndFreesItsPlace(t *testing.T) {
	for _, fault := range []string{"store down", "store panics", "later page fails"} {
		t.Run(fault, func(t *testing.T) {
			var flaky *flakyStore
			ts := newTestServer(t, func(c *stream.Config) {
				// The replay reads the same store the handlers do, and
				// reads it always, keeping nothing in memory.
				flaky = &flakyStore{MessageStore: c.History.(handlers.MessageStore)}
				c.History = flaky
				c.Recent = -1
			}, func(o *handlers.Options) {
				o.Store = flaky
				o.Limits.MaxStreams = 1
			})
			// Something to replay (a page resuming at the newest message
			// reads nothing); for a later page, one more than a page.
			stored := 1
			if fault == "later page fails" {
				stored = 501
			}
			{
				var wg sync.WaitGroup
				for w := range 3 {
					wg.Go(func() {
						for i := w; i < stored; i += 3 {
							if _, err := ts.store.AddMessage(context.Background(), "ann@example.com", fmt.Sprint("m", i)); err != nil {
								t.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
			}
			c := ts.joined(t, "bob@example.com")
			switch fault {
			case "store down":
				flaky.down.Store(true)
			case "store panics":
				flaky.broken.Store(true)
			case "later page fails":
				flaky.laterPagesFail.Store(true)
			}
			resp := openEvents(t, c, ts.URL+"/events?after=0")
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("the stream did not end: %v", err)
			}
			if fault == "later page fails" {
				// The first page was sent, then the server ended the
				// stream rather than leave it open.
				if resp.StatusCode != http.StatusOK || strings.Count(string(body), "id: ") != 500 {
					t.Errorf("later page fails: %s, %d messages, want 200 and the first page of 500", resp.Status, strings.Count(string(body), "id: "))
				}
			} else if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "cannot be loaded") {
				t.Errorf("first read fails: %s, Retry-After %q, %q; want 503 with Retry-After and a sentence", resp.Status, resp.Header.Get("Retry-After"), body)
			}
			if strings.Contains(string(body), errDown.Error()) || strings.Contains(string(body), "driver bug") {
				t.Errorf("the store's error reached the client: %q", body)
			}
			waitFor(t, func() bool { return ts.live.Streams() == 0 }, "the stream to leave the hub")

			flaky.down.Store(false)
			flaky.broken.Store(false)
			flaky.laterPagesFail.Store(false)
			// Fails unless the one place was given back.
			s := openLive(t, c, fmt.Sprintf("%s/events?after=%d", ts.URL, stored))
			if resp := post(t, c, ts.URL+"/messages", url.Values{"message": {"back"}}, true); resp.StatusCode != http.StatusOK {
				t.Fatalf("post: %d", resp.StatusCode)
			}
			if line := s.nextData(t); !strings.Contains(line, "bob@example.com</bdi></b>: <bdi>back") {
				t.Errorf("stream after the failed one: %q", line)
			}
		})
	}
}

// TestStreamReplaysSeveralPagesThenGoesLive replays more messages than one
// replay page and than one write's batch, then delivers the next message
// live: each exactly once, in order.
func TestStreamReplaysSeveralPagesThenGoesLive(t *testing.T) {
	ts := newTestServer(t)
	const stored = 1100 // two full replay pages of 500 and part of a third
	var wg sync.WaitGroup
	for w := range 10 {
		wg.Go(func() {
			for i := range stored / 10 {
				if _, err := ts.store.AddMessage(context.Background(), "ann@example.com", fmt.Sprintf("m%d-%d", w, i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	c := ts.joined(t, "bob@example.com")
	s := openLive(t, c, ts.URL+"/events?after=0")
	for want := 1; want <= stored; want++ {
		if line := s.nextData(t); !strings.HasPrefix(line, fmt.Sprintf("data: <li id=\"m-%d\"", want)) {
			t.Fatalf("replayed message %d is %q", want, line)
		}
	}
	if resp := post(t, c, ts.URL+"/messages", url.Values{"message": {"live"}}, true); resp.StatusCode != http.StatusOK {
		t.Fatalf("post: %d", resp.StatusCode)
	}
	if line := s.nextData(t); !strings.HasPrefix(line, fmt.Sprintf("data: <li id=\"m-%d\"", stored+1)) || !strings.Contains(line, ">live</bdi><") {
		t.Errorf("live message after the replay: %q", line)
	}
}

// TestPanicIsA500PageAndALogLine: a bug that panics in a request shows the
// person the usual apology, and the operator the stack, in the log.
func TestPanicIsA500PageAndALogLine(t *testing.T) {
	var logs bytes.Buffer
	ts := newTestServer(t, func(o *handlers.Options) {
		flaky := &flakyStore{MessageStore: o.Store}
		flaky.broken.Store(true)
		o.Store = flaky
		o.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	c := ts.joined(t, "bob@example.com")
	resp := get(t, c, ts.URL+"/")
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(resp.body, "Something went wrong on our side") {
		t.Errorf("page after a panic: %d\n%s", resp.StatusCode, resp.body)
	}
	if strings.Contains(resp.body, "store driver bug") || strings.Contains(resp.body, "goroutine") {
		t.Errorf("the panic reached the page:\n%s", resp.body)
	}
	ts.Close() // waits for the request's goroutine, which wrote the log
	if l := logs.String(); !strings.Contains(l, `"msg":"panic"`) || !strings.Contains(l, "store driver bug") || !strings.Contains(l, "faults_test.go") {
		t.Errorf("no panic with its stack in the log:\n%s", l)
	}
}
