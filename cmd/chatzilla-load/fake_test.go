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
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeChat speaks Chatzilla's HTTP contract (join, post, stream with replay
// after Last-Event-ID, and rooms: create, join, post to and stream one) and
// can misbehave in ways the real server must not, so the tests can check
// that the load client notices each of them.
type fakeChat struct {
	faults fakeFaults

	mu       sync.Mutex
	messages []fakeMessage        // message id i+1 is messages[i], whatever its room
	changed  chan struct{}        // closed and replaced on every post
	rooms    map[string]*fakeRoom // by slug; general is not one of them
	created  int                  // rooms made by POST /rooms
	taken    int                  // POST /rooms refused because the name was taken
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

// fakeMessage is one stored message; room "" is general.
type fakeMessage struct {
	room  string
	frame string
}

// fakeRoom is an open room and its members.
type fakeRoom struct {
	members map[string]bool
	posters map[string]int // posts by member
}

type fakeFaults struct {
	endAfter int                              // end every stream after this many events
	skip     func(user string, id int64) bool // never send id to user
	leak     func(user string, id int64) bool // send id to user's room stream though it is another room's
	failRoom func(name string) bool           // answer POST /rooms for name with 500
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
	fc := &fakeChat{faults: f, changed: make(chan struct{}), restart: make(chan struct{}), lastSent: map[string]int64{},
		rooms: map[string]*fakeRoom{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /join", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "chatzilla", Value: r.FormValue("email")})
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /messages", fc.post)
	mux.HandleFunc("GET /events", fc.stream)
	mux.HandleFunc("POST /rooms", fc.createRoom)
	mux.HandleFunc("GET /rooms/{slug}", fc.showRoom)
	mux.HandleFunc("POST /rooms/{slug}/join", fc.joinRoom)
	mux.HandleFunc("POST /rooms/{slug}/messages", fc.post)
	mux.HandleFunc("GET /rooms/{slug}/events", fc.stream)
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

// slugOf is the server's slug of a room name.
func slugOf(name string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(name))
}

// createRoom makes an open room, its creator a member: 303 to the room, or
// 422 if the name is empty or taken.
func (fc *fakeChat) createRoom(w http.ResponseWriter, r *http.Request) {
	user := member(r)
	if user == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	slug := slugOf(r.FormValue("name"))
	if fc.faults.failRoom != nil && fc.faults.failRoom(r.FormValue("name")) {
		http.Error(w, "no", http.StatusInternalServerError)
		return
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if r.FormValue("kind") != "open" || slug == "" || slug == "general" || fc.rooms[slug] != nil {
		fc.taken++
		http.Error(w, "That name is taken.", http.StatusUnprocessableEntity)
		return
	}
	fc.created++
	fc.rooms[slug] = &fakeRoom{members: map[string]bool{user: true}, posters: map[string]int{}}
	http.Redirect(w, r, "/rooms/"+slug, http.StatusSeeOther)
}

// room is the room a request names and whether its user is a member, or
// false after answering 404 (no such room) or 401 (no session).
func (fc *fakeChat) room(w http.ResponseWriter, r *http.Request) (rm *fakeRoom, isMember, ok bool) {
	user := member(r)
	fc.mu.Lock()
	defer fc.mu.Unlock()
	rm = fc.rooms[r.PathValue("slug")]
	switch {
	case user == "":
		http.Error(w, "join first", http.StatusUnauthorized)
		return nil, false, false
	case rm == nil:
		http.NotFound(w, r)
		return nil, false, false
	}
	return rm, rm.members[user], true
}

func (fc *fakeChat) showRoom(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := fc.room(w, r); ok {
		fmt.Fprint(w, "<h1>a room</h1>")
	}
}

func (fc *fakeChat) joinRoom(w http.ResponseWriter, r *http.Request) {
	rm, _, ok := fc.room(w, r)
	if !ok {
		return
	}
	fc.mu.Lock()
	rm.members[member(r)] = true
	fc.mu.Unlock()
	http.Redirect(w, r, r.URL.Path[:len(r.URL.Path)-len("/join")], http.StatusSeeOther)
}

// members is how many people each room has, by slug.
func (fc *fakeChat) members() map[string]int {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	m := map[string]int{}
	for slug, rm := range fc.rooms {
		m[slug] = len(rm.members)
	}
	return m
}

// post stores a message in general or, on /rooms/{slug}/messages, in that
// room, which only its members may post to (stricter than Chatzilla, where
// posting to an open room joins it, so that the tests see who posts).
func (fc *fakeChat) post(w http.ResponseWriter, r *http.Request) {
	if member(r) == "" || r.Header.Get("HX-Request") != "true" {
		http.Error(w, "join first, with htmx", http.StatusUnauthorized)
		return
	}
	slug := r.PathValue("slug")
	if slug != "" {
		rm, isMember, ok := fc.room(w, r)
		if !ok {
			return
		}
		if !isMember {
			http.Error(w, "not a member", http.StatusForbidden)
			return
		}
		fc.mu.Lock()
		rm.posters[member(r)]++
		fc.mu.Unlock()
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	n := fc.posts
	fc.posts++
	if fc.faults.refuse != nil && fc.faults.refuse(n) {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	fc.messages = append(fc.messages, fakeMessage{room: slug, frame: fmt.Sprintf(`<li id="m-%d"><b>%s</b>: %s</li>`,
		len(fc.messages)+1, html.EscapeString(member(r)), html.EscapeString(r.FormValue("message")))})
	close(fc.changed)
	fc.changed = make(chan struct{})
}

// stream is /events (general) or /rooms/{slug}/events, which only members
// may hold (stricter than Chatzilla, which shows open rooms to anyone).
func (fc *fakeChat) stream(w http.ResponseWriter, r *http.Request) {
	user := member(r)
	if user == "" {
		http.Error(w, "join first", http.StatusUnauthorized)
		return
	}
	slug := r.PathValue("slug")
	if slug != "" {
		if _, isMember, ok := fc.room(w, r); !ok {
			return
		} else if !isMember {
			http.Error(w, "not a member", http.StatusForbidden)
			return
		}
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
	if slug != "" { // the sidebar's unread counts: an event without an id
		fmt.Fprint(rw, "data: <span id=\"unread-1\" class=\"unread\" hx-swap-oob=\"true\">3</span>\n\n")
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
		for i, m := range batch {
			id := int64(next + i + 1)
			f, frame := fc.faults, m.frame
			switch {
			case m.room != slug && (f.leak == nil || !f.leak(user, id)):
				continue
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
