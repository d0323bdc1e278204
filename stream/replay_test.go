package stream_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/store/storetest"
	"github.com/chatzilla/chatzilla/stream"
)

// countingHistory is the real store, counting the reads a replay makes.
// While a gate is set, reads of that kind wait for it to close.
type countingHistory struct {
	stream.History
	after, before atomic.Int64
	afterGate     atomic.Pointer[chan struct{}]
}

func wait(gate *atomic.Pointer[chan struct{}]) {
	if g := gate.Load(); g != nil {
		<-*g
	}
}

func (h *countingHistory) RoomMessagesAfter(ctx context.Context, room, afterID int64, limit int) ([]store.Message, error) {
	h.after.Add(1)
	wait(&h.afterGate)
	return h.History.RoomMessagesAfter(ctx, room, afterID, limit)
}

func (h *countingHistory) RoomMessagesBefore(ctx context.Context, room, beforeID int64, limit int) ([]store.Message, error) {
	h.before.Add(1)
	return h.History.RoomMessagesBefore(ctx, room, beforeID, limit)
}

func (h *countingHistory) reads() int64 { return h.after.Load() + h.before.Load() }

func (h *countingHistory) reset() {
	h.after.Store(0)
	h.before.Store(0)
}

// testPipeline is a pipeline over a real SQLite store, started as run
// starts it, behind a real HTTP server on loopback whose /events opens a
// stream as handlers/stream.go does: after the `after` parameter, if any.
type testPipeline struct {
	*stream.Pipeline
	history *countingHistory
	url     string
	entered atomic.Int64 // requests that reached the handler
}

func openStore(t *testing.T) *store.SQLite {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), storetest.SQLitePath(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newPipeline(t *testing.T, st *store.SQLite, adjust func(*stream.Config)) *testPipeline {
	t.Helper()
	tp := &testPipeline{history: &countingHistory{History: st}}
	cfg := stream.Config{Broker: st, History: tp.history, Logger: slog.New(slog.DiscardHandler)}
	if adjust != nil {
		adjust(&cfg)
	}
	tp.Pipeline = stream.NewPipeline(cfg)
	stop, err := tp.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tp.entered.Add(1)
		after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
		room, _ := strconv.ParseInt(r.URL.Query().Get("room"), 10, 64)
		s, err := tp.Open(w, stream.Request{Email: "reader@example.com", Room: room, After: after, Replay: r.URL.Query().Has("after")})
		switch {
		case errors.Is(err, stream.ErrReplayFailed):
			w.Header().Set("Retry-After", "5")
			http.Error(w, "The messages you missed cannot be loaded right now.", http.StatusServiceUnavailable)
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		default:
			s.Serve()
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(tp.Close) // before srv.Close, which waits for streams
	tp.url = srv.URL + "/events"
	return tp
}

// events is an open stream's text, read as it comes.
type events struct{ r *bufio.Reader }

// open opens a stream at /events?query, and reads its first comment. The
// stream ends with the test, or after 10 s.
func (tp *testPipeline) open(t *testing.T, query string) (*events, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tp.url+query, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /events%s: %s", query, resp.Status)
	}
	e := &events{bufio.NewReader(resp.Body)}
	// The head's first comment ends in CRLFs, as the head does.
	comment, err := e.r.ReadString('\n')
	if blank, err2 := e.r.ReadString('\n'); err != nil || err2 != nil || comment+blank != ": connected\r\n\r\n" {
		return nil, fmt.Errorf("first comment %q: %v", comment+blank, errors.Join(err, err2))
	}
	return e, nil
}

// until reads until the text read contains want and the event it is in has
// ended.
func (e *events) until(want string) (string, error) {
	var b strings.Builder
	for !strings.Contains(b.String(), want) || !strings.HasSuffix(b.String(), "\n\n") {
		line, err := e.r.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			return b.String(), fmt.Errorf("stream ended before %q: %w", want, err)
		}
	}
	return b.String(), nil
}

// replay is what a stream resuming after id after sends, up to the end of
// message last.
func (tp *testPipeline) replay(t *testing.T, after, last int64) (string, error) {
	e, err := tp.open(t, fmt.Sprint("?after=", after))
	if err != nil {
		return "", err
	}
	return e.until(fmt.Sprintf("id: %d\n", last))
}

// addMessages stores messages first to last, from senders taking turns
// unevenly, so that some follow on from the one before and some do not,
// and some take several lines and need escaping.
func addMessages(t *testing.T, st *store.SQLite, first, last int) {
	t.Helper()
	senders := []string{"ann@example.com", "ann@example.com", "bob@example.com", "ann@example.com", "carol@example.com"}
	for i := first; i <= last; i++ {
		content := fmt.Sprint("message ", i)
		if i%7 == 0 {
			content += "\nsecond line <b>&amp; https://example.com/?a=1&b=2"
		}
		if _, err := st.AddMessage(context.Background(), senders[i%len(senders)], content); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReplayFromMemorySendsWhatTheStoreSends: a stream resuming within the
// messages kept in memory (read at start, or published since) is sent the
// very bytes a replay from the store sends, and the store is not read at
// all; a resume older than what is kept reads the store, and is sent the
// same.
func TestReplayFromMemorySendsWhatTheStoreSends(t *testing.T) {
	st := openStore(t)
	addMessages(t, st, 1, 30) // read into memory at start
	memory := newPipeline(t, st, nil)
	live, err := memory.open(t, "")
	if err != nil {
		t.Fatal(err)
	}
	addMessages(t, st, 31, 40) // published while the pipeline runs
	if _, err := live.until("id: 40\n"); err != nil {
		t.Fatal(err)
	}
	fromStore := newPipeline(t, st, func(c *stream.Config) { c.Recent = -1 })
	window := newPipeline(t, st, func(c *stream.Config) { c.Recent = 10 }) // 31 to 40

	for _, c := range []struct {
		name      string
		tp        *testPipeline
		after     int64
		readStore bool
	}{
		{"everything kept, from the start", memory, 0, false},
		{"everything kept, from the first", memory, 1, false},
		{"everything kept, read at start", memory, 17, false},
		{"everything kept, across start", memory, 29, false},
		{"everything kept, published since", memory, 35, false},
		{"everything kept, one missed", memory, 39, false},
		{"10 kept, older", window, 0, true},
		{"10 kept, just older", window, 29, true},
		{"10 kept, the oldest's predecessor", window, 30, false},
		{"10 kept, within", window, 33, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			want, err := fromStore.replay(t, c.after, 40)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(want, "id: "); n != int(40-c.after) {
				t.Fatalf("from the store: %d messages, want %d:\n%s", n, 40-c.after, want)
			}
			c.tp.history.reset()
			got, err := c.tp.replay(t, c.after, 40)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("after %d: sent\n%s\nwant, as from the store:\n%s", c.after, got, want)
			}
			if reads := c.tp.history.reads(); (reads > 0) != c.readStore {
				t.Errorf("after %d: %d reads from the store, want reads: %v", c.after, reads, c.readStore)
			}
		})
	}
	if fromStore.history.reads() == 0 {
		t.Error("the pipeline keeping nothing never read the store: the comparison compared nothing")
	}
}

// TestConcurrentReplaysShareStoreReads: a crowd resuming from the same few
// ids at the same time, outside what is kept in memory, costs one store
// read per distinct id, not one per stream; and each stream gets every
// message it missed.
func TestConcurrentReplaysShareStoreReads(t *testing.T) {
	st := openStore(t)
	addMessages(t, st, 1, 20)
	tp := newPipeline(t, st, func(c *stream.Config) { c.Recent = -1 })
	afterGate := make(chan struct{})
	tp.history.afterGate.Store(&afterGate)

	const streams = 20
	got := make([]string, streams)
	var wg sync.WaitGroup
	for i := range streams {
		wg.Go(func() {
			var err error
			if got[i], err = tp.replay(t, int64(5+i%2), 20); err != nil {
				t.Error(err)
			}
		})
	}
	// Every request waits on the page read: time to join the one in
	// progress.
	for tp.entered.Load() < streams {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	close(afterGate)
	wg.Wait()

	// Without sharing, 20 of each; a straggler may start a read of its own.
	if m := tp.history.after.Load(); m > 4 {
		t.Errorf("%d streams resuming from 2 ids read pages %d times, want 2", streams, m)
	}
	for i, text := range got {
		if want := 15 - i%2; strings.Count(text, "id: ") != want || !strings.HasPrefix(text, fmt.Sprintf("id: %d\n", 6+i%2)) {
			t.Errorf("stream %d sent %d messages, want %d from %d:\n%s", i, strings.Count(text, "id: "), want, 6+i%2, text)
		}
		if text != got[i%2] {
			t.Errorf("stream %d sent other bytes than stream %d", i, i%2)
		}
	}
}

// TestReplayReadsWhatAnotherProcessStored: on SQLite, the process being
// replaced may still store its last posts after this one started. A resume
// inside the memory window is sent them too: the follower publishes them
// here, after what memory held, and the stream gets them from its hub.
func TestReplayReadsWhatAnotherProcessStored(t *testing.T) {
	path := storetest.SQLitePath(t)
	st, err := store.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	addMessages(t, st, 1, 10)
	tp := newPipeline(t, st, nil)
	old, err := store.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { old.Close() })
	if _, err := old.AddMessage(context.Background(), "ann@example.com", "posted to the old process"); err != nil {
		t.Fatal(err)
	}
	got, err := tp.replay(t, 10, 11)
	if err != nil {
		t.Fatalf("the resume was not sent message 11, stored by the other process: %v", err)
	}
	if !strings.Contains(got, "posted to the old process") {
		t.Errorf("resume after 10 sent:\n%s", got)
	}
}
