package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// loadAgainst runs the load client's core against url with extra flags.
func loadAgainst(t *testing.T, url string, flags ...string) *report {
	t.Helper()
	args := append([]string{"chatzilla-load", "-url", url, "-settle", "0", "-grace", "300ms"}, flags...)
	cfg, err := parseConfig(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := runLoad(ctx, cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func hasFailure(r *report, text string) bool {
	for _, f := range r.Failures {
		if strings.Contains(f, text) {
			return true
		}
	}
	return false
}

// Each misbehaviour of the server shows up in the report, and only it.
func TestLoadAgainstFakeChat(t *testing.T) {
	user3 := func(user string) bool { return strings.HasSuffix(user, "-3@example.com") }
	tests := []struct {
		name    string
		faults  fakeFaults
		flags   []string
		check   func(*report) bool
		failure string // "" for a pass
	}{
		{
			name:  "a correct server passes",
			check: func(r *report) bool { return r.Deliveries.Received == 8*20 && r.Deliveries.Expected == 8*20 },
		},
		{
			name:   "streams the server keeps ending resume after Last-Event-ID without loss",
			faults: fakeFaults{endAfter: 7},
			check:  func(r *report) bool { return r.Streams.Reconnects >= 8*2 && r.Deliveries.Received == 8*20 },
		},
		{
			name:    "a message one stream never gets is lost",
			faults:  fakeFaults{skip: func(u string, id int64) bool { return user3(u) && id == 5 }},
			check:   func(r *report) bool { return r.Deliveries.Lost == 1 && r.Deliveries.Received == 8*20-1 },
			failure: "1 deliveries lost",
		},
		{
			name:    "a message sent twice is a duplicate",
			faults:  fakeFaults{repeat: func(u string, id int64) bool { return user3(u) && id == 5 }},
			check:   func(r *report) bool { return r.Deliveries.Duplicates == 1 && r.Deliveries.Lost == 0 },
			failure: "1 deliveries duplicated",
		},
		{
			name:    "a message sent after its successor is out of order",
			faults:  fakeFaults{holdBack: func(u string, id int64) bool { return user3(u) && id == 5 }},
			check:   func(r *report) bool { return r.Deliveries.OutOfOrder == 1 && r.Deliveries.Lost == 0 },
			failure: "1 deliveries out of order",
		},
		{
			name:   "a refused post fails the run",
			faults: fakeFaults{refuse: func(n int) bool { return n == 4 }},
			check: func(r *report) bool {
				return r.Posts.Failed == 1 && r.Posts.Statuses["503"] == 1 && r.Deliveries.Expected == 8*19
			},
			failure: "1 posts failed",
		},
		{
			name:   "unless refused posts are allowed",
			faults: fakeFaults{refuse: func(n int) bool { return n == 4 }},
			flags:  []string{"-allow-failed-posts"},
			check:  func(r *report) bool { return r.Posts.Accepted == 19 && r.Deliveries.Lost == 0 },
		},
	}
	for _, tt := range tests {
		// Both ways of reading streams: epoll, and a goroutine each.
		for _, epoll := range []string{"-epoll=true", "-epoll=false"} {
			t.Run(tt.name+" "+epoll, func(t *testing.T) {
				srv := startFakeChat(t, tt.faults)
				flags := append([]string{"-streams", "8", "-senders", "3", "-messages", "20", "-rate", "0", epoll}, tt.flags...)
				r := loadAgainst(t, srv.URL, flags...)
				if !tt.check(r) {
					t.Errorf("report does not show it: %+v %+v", r.Deliveries, r.Posts)
				}
				if tt.failure == "" && len(r.Failures) > 0 {
					t.Errorf("failures %q, want none", r.Failures)
				}
				if tt.failure != "" && (len(r.Failures) != 1 || !hasFailure(r, tt.failure)) {
					t.Errorf("failures %q, want only %q", r.Failures, tt.failure)
				}
			})
		}
	}
}

// A stream-only process learns what was posted from the poster's end marker,
// so that two processes together check every stream.
func TestStreamOnlyProcess(t *testing.T) {
	srv := startFakeChat(t, fakeFaults{})
	cfg, err := parseConfig([]string{"chatzilla-load", "-url", srv.URL, "-settle", "0", "-grace", "300ms",
		"-senders", "0", "-streams", "5", "-run", "shared1", "-wait", "20s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ready := &signalWriter{word: "ready", seen: make(chan struct{})}
	var streamsOnly *report
	var wg sync.WaitGroup
	wg.Go(func() {
		var err error
		if streamsOnly, err = runLoad(context.Background(), cfg, ready); err != nil {
			t.Error(err)
		}
	})
	select {
	case <-ready.seen:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream-only process never said it was ready")
	}
	poster := loadAgainst(t, srv.URL, "-streams", "2", "-senders", "2", "-messages", "10", "-rate", "0", "-run", "shared1")
	wg.Wait()
	if streamsOnly == nil {
		t.FailNow()
	}
	if len(poster.Failures) > 0 || poster.Deliveries.Received != 2*10 {
		t.Errorf("poster: %+v, failures %q", poster.Deliveries, poster.Failures)
	}
	d := streamsOnly.Deliveries
	if len(streamsOnly.Failures) > 0 || d.Expected != 5*10 || d.Received != 5*10 || streamsOnly.Posts != nil {
		t.Errorf("stream-only process: %+v, failures %q", d, streamsOnly.Failures)
	}
}

// signalWriter closes seen once word has been written to it.
type signalWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	word string
	seen chan struct{}
	once sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.word) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

// run prints the report and exits non-zero exactly when the run failed.
func TestRunExitsNonZeroOnLoss(t *testing.T) {
	for _, lose := range []bool{false, true} {
		srv := startFakeChat(t, fakeFaults{skip: func(u string, id int64) bool { return lose && id == 2 }})
		var stdout bytes.Buffer
		err := run(context.Background(), []string{"chatzilla-load", "-url", srv.URL, "-json", "-settle", "0",
			"-grace", "200ms", "-streams", "3", "-senders", "1", "-messages", "3", "-rate", "0"},
			func(string) string { return "" }, &stdout, io.Discard)
		var r report
		if jerr := json.Unmarshal(stdout.Bytes(), &r); jerr != nil {
			t.Fatalf("-json output does not parse: %v\n%s", jerr, stdout.String())
		}
		if lose != errors.Is(err, errFailed) || (r.Deliveries.Lost == 3) != lose {
			t.Errorf("losing one message per stream: %v; run returned %v with %d lost", lose, err, r.Deliveries.Lost)
		}
	}
}
