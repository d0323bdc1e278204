package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// person is a joined HTTP client of a running instance.
type person struct {
	t     *testing.T
	base  string
	email string
	c     *http.Client
}

func join(t *testing.T, base, email string) *person {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(base+"/join", url.Values{"email": {email}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("join %s: %d", email, resp.StatusCode)
	}
	return &person{t: t, base: base, email: email, c: c}
}

// say posts a message as a plain form and fails the test unless it is
// acknowledged.
func (p *person) say(text string) {
	p.t.Helper()
	resp, err := p.c.PostForm(p.base+"/messages", url.Values{"message": {text}})
	if err != nil {
		p.t.Error(err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		p.t.Errorf("post %q: %d", text, resp.StatusCode)
	}
}

type event struct {
	id    int64
	data  string
	name  string // the event field, if any
	retry string // the retry field, if any
}

// eventStream is an open /events connection read in the background.
type eventStream struct {
	events  chan event    // messages
	notices chan event    // events without an id: who joined or left
	ended   chan struct{} // closed when the server ends the stream
	cancel  context.CancelFunc
}

func (p *person) open(query, lastEventID string) *eventStream {
	p.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p.t.Cleanup(cancel)
	resp := p.connect(ctx, query, lastEventID)
	s := newStream(cancel)
	go func() {
		defer close(s.ended)
		defer resp.Body.Close()
		readEvents(resp.Body, s.events, s.notices)
	}()
	return s
}

// follow opens a stream that, like a browser, reconnects with Last-Event-ID
// whenever the server ends it, until the test ends. Events arrive once each
// however often it reconnects; reconnects are counted.
func (p *person) follow(query string) (s *eventStream, reconnects func() int) {
	p.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p.t.Cleanup(cancel)
	s = newStream(cancel)
	var mu sync.Mutex
	n := 0
	resp := p.connect(ctx, query, "")
	go func() {
		defer close(s.ended)
		var last int64
		for {
			seen := make(chan event, 10000)
			done := make(chan struct{})
			go func() {
				defer close(done)
				for e := range seen {
					last = e.id
					s.events <- e
				}
			}()
			readEvents(resp.Body, seen, s.notices)
			resp.Body.Close()
			close(seen)
			<-done
			if ctx.Err() != nil {
				return
			}
			mu.Lock()
			n++
			mu.Unlock()
			time.Sleep(50 * time.Millisecond) // htmx backs off too
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/events"+query, nil)
			req.Header.Set("Last-Event-ID", strconv.FormatInt(last, 10))
			r, err := p.c.Do(req)
			if err != nil || r.StatusCode != http.StatusOK {
				if r != nil {
					r.Body.Close()
				}
				return
			}
			resp = r
		}
	}()
	return s, func() int { mu.Lock(); defer mu.Unlock(); return n }
}

func (p *person) connect(ctx context.Context, query, lastEventID string) *http.Response {
	p.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/events"+query, nil)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := p.c.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		p.t.Fatalf("GET /events%s: %d", query, resp.StatusCode)
	}
	return resp
}

func newStream(cancel context.CancelFunc) *eventStream {
	return &eventStream{events: make(chan event, 10000), notices: make(chan event, 10000), ended: make(chan struct{}), cancel: cancel}
}

// readEvents parses text/event-stream until the body ends, sending messages
// to out and events without an id to notices (dropped when full).
func readEvents(body io.Reader, out, notices chan<- event) {
	r := bufio.NewReader(body)
	var e event
	var data []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if data != nil {
				e.data = strings.Join(data, "\n")
				if e.id != 0 {
					out <- e
				} else {
					select {
					case notices <- e:
					default:
					}
				}
			}
			e, data = event{}, nil
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id: "):
			e.id, _ = strconv.ParseInt(strings.TrimPrefix(line, "id: "), 10, 64)
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: "))
		case strings.HasPrefix(line, "event: "):
			e.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "retry: "):
			e.retry = strings.TrimPrefix(line, "retry: ")
		}
	}
}

// next returns the next n events or fails after timeout.
func (s *eventStream) next(t *testing.T, n int, timeout time.Duration) []event {
	t.Helper()
	var got []event
	deadline := time.After(timeout)
	for len(got) < n {
		select {
		case e := <-s.events:
			got = append(got, e)
		case <-deadline:
			t.Fatalf("got %d of %d events within %s: %+v", len(got), n, timeout, got)
		}
	}
	return got
}

// quiet fails if any event arrives within d.
func (s *eventStream) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case e := <-s.events:
		t.Fatalf("unexpected event %+v", e)
	case <-time.After(d):
	}
}

func ids(es []event) string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatInt(e.id, 10))
	}
	return b.String()
}

func TestStreamReplaysThenGoesLive(t *testing.T) {
	inst := startChatzilla(t, nil)
	bob := join(t, inst.URL, "bob@example.com")
	for i := 1; i <= 3; i++ {
		bob.say(fmt.Sprintf("message %d", i))
	}

	tests := []struct {
		name, query, lastEventID string
		wantReplay               string
	}{
		{"after parameter", "?after=1", "", "2 3"},
		{"Last-Event-ID wins over after", "?after=0", "2", "3"},
		{"Last-Event-ID alone", "", "1", "2 3"},
		{"after zero replays all", "?after=0", "", "1 2 3"},
		{"up to date", "?after=3", "", ""},
	}
	streams := make([]*eventStream, len(tests))
	for i, tt := range tests {
		streams[i] = bob.open(tt.query, tt.lastEventID)
		if tt.wantReplay == "" {
			continue
		}
		got := streams[i].next(t, len(strings.Fields(tt.wantReplay)), 2*time.Second)
		if ids(got) != tt.wantReplay {
			t.Errorf("%s: replayed %s, want %s", tt.name, ids(got), tt.wantReplay)
		}
	}
	live := bob.open("", "") // no start: live only
	live.quiet(t, 200*time.Millisecond)

	bob.say("message 4 <b>bold</b>")
	want := regexp.MustCompile(`^<li id="m-4" class="msg av-9( cont)?( newday)?" data-initials="B" data-name="bob"><b><bdi>bob@example.com</bdi></b>: <bdi>message 4 &lt;b&gt;bold&lt;/b&gt;</bdi><time datetime="[^"]+" title="[^"]+">\d?\d:\d\d</time></li>$`)
	for i, s := range append(streams, live) {
		got := s.next(t, 1, time.Second)
		if got[0].id != 4 || !want.MatchString(got[0].data) {
			t.Errorf("stream %d: got %+v, want id 4 %s", i, got[0], want)
		}
		s.quiet(t, 50*time.Millisecond)
	}
}

// TestStreamNoGapNoDuplicateWhileReplaying opens streams while messages are
// being posted, so that the replay and the live events overlap: every stream
// must still see every message after its start exactly once, in order.
func TestStreamNoGapNoDuplicateWhileReplaying(t *testing.T) {
	inst := startChatzilla(t, map[string]string{"RATE_LIMITS": "off"})
	ann := join(t, inst.URL, "ann@example.com")
	const total = 200
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 1; i <= total; i++ {
			ann.say(fmt.Sprintf("m%d", i))
		}
	})
	var streams []*eventStream
	var starts []int64
	for i := range 10 {
		after := int64(i * 15)
		starts = append(starts, after)
		streams = append(streams, ann.open(fmt.Sprintf("?after=%d", after), ""))
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	// Each message is rendered from the one before it in the log (grouping,
	// day lines), whether it came replayed or live: every stream has the
	// same bytes for it.
	seen := make(map[int64]string)
	for i, s := range streams {
		got := s.next(t, total-int(starts[i]), 10*time.Second)
		for j, e := range got {
			if want := starts[i] + int64(j) + 1; e.id != want || !strings.Contains(e.data, fmt.Sprintf(">m%d</bdi><", want)) {
				t.Fatalf("stream after %d: event %d is %+v, want message %d", starts[i], j, e, want)
			}
			if first, ok := seen[e.id]; ok && first != e.data {
				t.Fatalf("message %d differs between streams:\n%s\n%s", e.id, first, e.data)
			}
			seen[e.id] = e.data
		}
		s.quiet(t, 20*time.Millisecond)
	}
}

func TestShutdownEndsStreamsAndExits(t *testing.T) {
	inst := startChatzilla(t, nil)
	bob := join(t, inst.URL, "bob@example.com")
	s := bob.open("?after=0", "")
	bob.say("before shutdown")
	s.next(t, 1, time.Second)

	start := time.Now()
	if err := inst.stop(); err != nil {
		t.Fatalf("run returned %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("shutdown took %s, want under 10s", took)
	}
	select {
	case <-s.ended:
	case <-time.After(time.Second):
		t.Fatal("stream still open after shutdown")
	}
	// Its last event says how long to wait before reconnecting: at least
	// 100 ms, spread by 0.1 ms per open stream.
	var last event
	for len(s.notices) > 0 {
		last = <-s.notices
	}
	if ms, err := strconv.Atoi(last.retry); last.name != "chatzilla-restart" || err != nil || ms < 100 || ms > 101 {
		t.Errorf("the stream's last event is %+v, want a chatzilla-restart with retry 100-101 (ms)", last)
	}
	if !strings.Contains(inst.logs.String(), "stopped") {
		t.Errorf("no clean stop in the log:\n%s", inst.logs.String())
	}
}

func TestMessagesSurviveRestart(t *testing.T) {
	db := "sqlite:" + t.TempDir() + "/chat.db"
	first := startChatzilla(t, map[string]string{"DATABASE_URL": db})
	bob := join(t, first.URL, "bob@example.com")
	bob.say("kept")
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}
	second := startChatzilla(t, map[string]string{"DATABASE_URL": db})
	s := join(t, second.URL, "ann@example.com").open("?after=0", "")
	if got := s.next(t, 1, time.Second); !strings.Contains(got[0].data, "bob@example.com</bdi></b>: <bdi>kept") {
		t.Errorf("after restart: %+v", got)
	}
}

// TestSQLiteOverlapDuringRestart runs two instances on one SQLite file, as
// the old and the new process overlap during a restart (the old one still
// storing the posts it had taken): what the old one stores reaches the new
// one's streams live, in id order with the new one's own.
func TestSQLiteOverlapDuringRestart(t *testing.T) {
	t.Parallel()
	db := "sqlite:" + t.TempDir() + "/chat.db"
	older := startChatzilla(t, map[string]string{"DATABASE_URL": db})
	newer := startChatzilla(t, map[string]string{"DATABASE_URL": db})
	bob := join(t, older.URL, "bob@example.com")
	ann := join(t, newer.URL, "ann@example.com")
	s := ann.open("", "")

	bob.say("stored by the old process")
	got := s.next(t, 1, 5*time.Second)
	bob.say("the last of the old process")
	ann.say("the first of the new process")
	got = append(got, s.next(t, 2, 5*time.Second)...)
	for i, want := range []string{"stored by the old process", "the last of the old process", "the first of the new process"} {
		if !strings.Contains(got[i].data, want) {
			t.Errorf("event %d: %q, want %q", i, got[i].data, want)
		}
		if i > 0 && got[i].id <= got[i-1].id {
			t.Errorf("ids out of order: %s", ids(got))
		}
	}
	s.quiet(t, 500*time.Millisecond)
}
