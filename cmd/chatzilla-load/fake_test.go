package main

import (
	"context"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fakeChat speaks Chatzilla's HTTP contract (join, post, stream with replay
// after Last-Event-ID) and can misbehave in ways the real server must not,
// so the tests can check that the load client notices each of them.
type fakeChat struct {
	faults fakeFaults

	mu       sync.Mutex
	messages []string      // message id i+1 is messages[i]
	changed  chan struct{} // closed and replaced on every post
	posts    int
	restart  chan struct{} // closed and replaced when the fake restarts: every stream ends
	// What each user's streams were sent and resumed from, to check
	// Last-Event-ID: the last id written to the user's stream, the streams
	// opened after one had ended, and those of them whose Last-Event-ID was
	// not that last id (or missing).
	lastSent     map[string]int64
	resumes      int
	wrongResumes []string
	refused      int // resumes answered 503 (faults.refuseResumes)
}

type fakeFaults struct {
	endAfter int                              // end every stream after this many events
	skip     func(user string, id int64) bool // never send id to user
	repeat   func(user string, id int64) bool // send id to user twice
	holdBack func(user string, id int64) bool // send id to user after the next one
	refuse   func(post int) bool              // answer post number n (from 0) with 503

	retryMS       int  // send "retry: retryMS" at the start of every stream
	refuseResumes int  // answer the first this many resumes 503, Retry-After 5 (as Chatzilla does)
	ignoreResume  bool // resume from now, whatever Last-Event-ID says
	replayEarly   int  // resume this many messages before Last-Event-ID
}

func startFakeChat(t *testing.T, f fakeFaults) *httptest.Server {
	_, h := newFakeChat(f)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func newFakeChat(f fakeFaults) (*fakeChat, http.Handler) {
	fc := &fakeChat{faults: f, changed: make(chan struct{}), restart: make(chan struct{}), lastSent: map[string]int64{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /join", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "chatzilla", Value: r.FormValue("email")})
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /messages", fc.post)
	mux.HandleFunc("GET /events", fc.stream)
	return fc, mux
}

// restartingFake is a fake chat that can go down and come back on the same
// address, as a restarted server does, keeping its messages (the database).
type restartingFake struct {
	*fakeChat
	handler http.Handler
	addr    string
	URL     string

	mu  sync.Mutex
	srv *http.Server
}

func startRestartingFake(t *testing.T, f fakeFaults) *restartingFake {
	fc, h := newFakeChat(f)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rf := &restartingFake{fakeChat: fc, handler: h, addr: ln.Addr().String(), URL: "http://" + ln.Addr().String()}
	rf.serve(ln)
	t.Cleanup(rf.down)
	return rf
}

func (rf *restartingFake) serve(ln net.Listener) {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	srv := &http.Server{Handler: rf.handler}
	rf.srv = srv
	go func() { _ = srv.Serve(ln) }()
}

// down stops listening and ends every stream.
func (rf *restartingFake) down() {
	rf.mu.Lock()
	srv := rf.srv
	rf.srv = nil
	rf.mu.Unlock()
	if srv == nil {
		return
	}
	// As a server does on SIGTERM: stop listening, let the requests in
	// flight finish (not the streams, which it handed over when it took
	// their connections: closing restart ends them).
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	rf.fakeChat.mu.Lock()
	close(rf.restart) // the streams it handed over (hijacked)
	rf.restart = make(chan struct{})
	rf.fakeChat.mu.Unlock()
}

// up listens again on the same address.
func (rf *restartingFake) up(t *testing.T) {
	ln, err := net.Listen("tcp", rf.addr)
	if err != nil {
		t.Error(err)
		return
	}
	rf.serve(ln)
}

func member(r *http.Request) string {
	c, err := r.Cookie("chatzilla")
	if err != nil {
		return ""
	}
	return c.Value
}

func (fc *fakeChat) post(w http.ResponseWriter, r *http.Request) {
	if member(r) == "" || r.Header.Get("HX-Request") != "true" {
		http.Error(w, "join first, with htmx", http.StatusUnauthorized)
		return
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	n := fc.posts
	fc.posts++
	if fc.faults.refuse != nil && fc.faults.refuse(n) {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	fc.messages = append(fc.messages, fmt.Sprintf(`<li id="m-%d"><b>%s</b>: %s</li>`,
		len(fc.messages)+1, html.EscapeString(member(r)), html.EscapeString(r.FormValue("message"))))
	close(fc.changed)
	fc.changed = make(chan struct{})
}

func (fc *fakeChat) stream(w http.ResponseWriter, r *http.Request) {
	user := member(r)
	if user == "" {
		http.Error(w, "join first", http.StatusUnauthorized)
		return
	}
	v := r.Header.Get("Last-Event-ID")
	fc.mu.Lock()
	next := len(fc.messages) // live only, unless told where to resume
	restart := fc.restart
	last, resuming := fc.lastSent[user]
	if resuming {
		fc.resumes++
		if want := strconv.FormatInt(last, 10); v != want && (last != 0 || v != "") {
			fc.wrongResumes = append(fc.wrongResumes, fmt.Sprintf("%s: Last-Event-ID %q after id %d", user, v, last))
		}
	}
	refuse := resuming && fc.refused < fc.faults.refuseResumes
	if refuse {
		fc.refused++
	}
	fc.mu.Unlock()
	if refuse {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "restarting", http.StatusServiceUnavailable)
		return
	}
	if v != "" && !fc.faults.ignoreResume {
		id, _ := strconv.Atoi(v)
		next = max(id-fc.faults.replayEarly, 0)
	}
	// Like Chatzilla, take the connection over and send the body as is,
	// ended by closing the connection (no chunked encoding), so that the
	// client reads it as it reads Chatzilla's.
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		_, _ = io.Copy(io.Discard, conn) // until the client closes
	}()
	fmt.Fprint(rw, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n: connected\n\n")
	if fc.faults.retryMS > 0 {
		fmt.Fprintf(rw, "retry: %d\n\n", fc.faults.retryMS)
	}
	rw.Flush()
	fc.mu.Lock()
	if _, ok := fc.lastSent[user]; !ok {
		fc.lastSent[user] = 0 // from now on, a new stream of user's is a resume
	}
	fc.mu.Unlock()

	sent := 0
	type heldEvent struct {
		id    int64
		frame string
	}
	var held []heldEvent
	send := func(id int64, frame string) bool {
		fmt.Fprintf(rw, "id: %d\ndata: %s\n\n", id, frame)
		fc.mu.Lock()
		fc.lastSent[user] = id
		fc.mu.Unlock()
		sent++
		return fc.faults.endAfter == 0 || sent < fc.faults.endAfter
	}
	for {
		fc.mu.Lock()
		batch, changed := fc.messages[next:], fc.changed
		fc.mu.Unlock()
		for i, frame := range batch {
			id := int64(next + i + 1)
			f := fc.faults
			switch {
			case f.skip != nil && f.skip(user, id):
				continue
			case f.holdBack != nil && f.holdBack(user, id):
				held = append(held, heldEvent{id, frame})
				continue
			}
			if !send(id, frame) || (f.repeat != nil && f.repeat(user, id) && !send(id, frame)) {
				rw.Flush()
				return
			}
			for _, h := range held {
				send(h.id, h.frame)
			}
			held = nil
		}
		next += len(batch)
		if rw.Flush() != nil {
			return
		}
		select {
		case <-changed:
		case <-gone:
			return
		case <-restart:
			return
		}
	}
}
