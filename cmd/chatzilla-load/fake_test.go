package main

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
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
}

type fakeFaults struct {
	endAfter int                              // end every stream after this many events
	skip     func(user string, id int64) bool // never send id to user
	repeat   func(user string, id int64) bool // send id to user twice
	holdBack func(user string, id int64) bool // send id to user after the next one
	refuse   func(post int) bool              // answer post number n (from 0) with 503
}

func startFakeChat(t *testing.T, f fakeFaults) *httptest.Server {
	fc := &fakeChat{faults: f, changed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /join", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "chatzilla", Value: r.FormValue("email")})
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /messages", fc.post)
	mux.HandleFunc("GET /events", fc.stream)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
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
	fc.mu.Lock()
	next := len(fc.messages) // live only, unless told where to resume
	fc.mu.Unlock()
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		id, _ := strconv.Atoi(v)
		next = id
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
	rw.Flush()

	sent := 0
	type heldEvent struct {
		id    int64
		frame string
	}
	var held []heldEvent
	send := func(id int64, frame string) bool {
		fmt.Fprintf(rw, "id: %d\ndata: %s\n\n", id, frame)
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
		}
	}
}
