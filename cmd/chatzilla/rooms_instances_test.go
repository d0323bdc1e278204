package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// openAt opens the stream at path (with its query) as p, read in the
// background like open's.
func (p *person) openAt(path string) *eventStream {
	p.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p.t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	resp, err := p.c.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		p.t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	s := newStream(cancel)
	go func() {
		defer close(s.ended)
		defer resp.Body.Close()
		readEvents(resp.Body, s.events, s.notices)
	}()
	return s
}

// postForm posts form to path as p and wants a 303.
func (p *person) postForm(path string, form url.Values) {
	p.t.Helper()
	resp, err := p.c.PostForm(p.base+path, form)
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusNoContent {
		p.t.Fatalf("POST %s: %d", path, resp.StatusCode)
	}
}

// notice waits for an event without an id (presence, sidebar) holding every
// one of want.
func (s *eventStream) notice(t *testing.T, what string, want ...string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-s.notices:
			if containsAll(e.data, want) {
				return
			}
		case <-deadline:
			t.Fatalf("no %s within 5 s", what)
		}
	}
}

func containsAll(s string, subs []string) bool {
	for _, w := range subs {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

// TestInstancesKeepRoomsApart runs two instances on one PostgreSQL: a
// message posted in a room on one reaches that room's streams on the other
// and no other room's; the sidebar's unread count follows it there, and a
// read on one instance clears it on the other; who is in a room shows
// across instances too.
func TestInstancesKeepRoomsApart(t *testing.T) {
	_, insts := startInstances(t, 2, "cz-rooms", nil)
	a, b := insts[0], insts[1]
	ann := join(t, a.URL, "ann@example.com")
	bob := join(t, b.URL, "bob@example.com")
	ann.postForm("/rooms", url.Values{"name": {"ops"}})
	bob.postForm("/rooms/ops/join", nil)

	opsOnB := bob.openAt("/rooms/ops/events?after=0")
	generalOnB := bob.openAt("/events?after=0")
	ann.postForm("/rooms/ops/messages", url.Values{"message": {"in ops, from A"}})
	ann.say("in general, from A")

	if got := opsOnB.next(t, 1, 5*time.Second); !strings.Contains(got[0].data, "in ops, from A") {
		t.Errorf("ops' stream on B got %q", got[0].data)
	}
	if got := generalOnB.next(t, 1, 5*time.Second); !strings.Contains(got[0].data, "in general, from A") {
		t.Errorf("general's stream on B got %q", got[0].data)
	}
	opsOnB.quiet(t, 300*time.Millisecond)
	generalOnB.quiet(t, 300*time.Millisecond)

	// The ops message is unread for Bob in general's sidebar, on B…
	badge := `class="unread" hx-swap-oob="true">1</span>`
	generalOnB.notice(t, "ops counted unread on B", `id="unread-2"`, badge)
	// …until he reads it on A (opening the room's page reads it).
	resp, err := bob.c.Get(a.URL + "/rooms/ops")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("bob opens ops on A: %d", resp.StatusCode)
	}
	generalOnB.notice(t, "the count cleared on B after reading on A", `id="unread-2"`, `class="unread" hx-swap-oob="true"></span>`)

	// Ann opening ops on A shows her online in ops on B.
	ann.openAt("/rooms/ops/events")
	opsOnB.notice(t, "ann online in ops, on B", `id="people"`, "ann@example.com")
}
