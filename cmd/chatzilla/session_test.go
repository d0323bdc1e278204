package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"
)

// at is the same browser (same cookies) talking to another instance.
func (p *person) at(base string) *person {
	q := *p
	q.base = base
	return &q
}

// copied is another browser holding a copy of p's cookies.
func (p *person) copied() *person {
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(p.base)
	jar.SetCookies(u, p.c.Jar.Cookies(u))
	q := *p
	q.c = &http.Client{Jar: jar, CheckRedirect: p.c.CheckRedirect}
	return &q
}

// joined reports whether the server shows p the chat (not the join form).
func (p *person) joined() bool {
	p.t.Helper()
	resp, err := p.c.Get(p.base + "/")
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatal(err)
	}
	return resp.StatusCode == http.StatusOK && strings.Contains(string(b), `action="/messages"`)
}

func (p *person) leave(everywhere bool) {
	p.t.Helper()
	form := url.Values{}
	if everywhere {
		form.Set("everywhere", "true")
	}
	resp, err := p.c.PostForm(p.base+"/leave", form)
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		p.t.Fatalf("leave: %d", resp.StatusCode)
	}
}

// refused checks that p's session is over: its stream and its sends get 401.
func (p *person) refused(what string) {
	p.t.Helper()
	resp, err := p.c.Get(p.base + "/events")
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		p.t.Errorf("%s: stream %d, want 401", what, resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPost, p.base+"/messages", strings.NewReader("message=still+here%3F"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("HX-Request", "true")
	resp, err = p.c.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		p.t.Errorf("%s: send %d, want 401", what, resp.StatusCode)
	}
}

// endsWithin fails unless the server ends s within d.
func (s *eventStream) endsWithin(t *testing.T, d time.Duration, what string) {
	t.Helper()
	select {
	case <-s.ended:
	case <-time.After(d):
		t.Fatalf("%s: still open %s after leaving", what, d)
	}
}

func TestSessionsSurviveRestart(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "sqlite:" + t.TempDir() + "/chat.db"}
	first := startChatzilla(t, env)
	bob := join(t, first.URL, "bob@example.com")
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}
	second := startChatzilla(t, env)
	bob = bob.at(second.URL)
	if !bob.joined() {
		t.Fatal("not joined after a restart")
	}
	saved := bob.copied()
	bob.leave(false)
	if err := second.stop(); err != nil {
		t.Fatal(err)
	}
	third := startChatzilla(t, env)
	saved.at(third.URL).refused("a saved cookie after leaving and a restart")
}

// TestLeaveEndsStreamsOnEveryInstance leaves on instance A while the same
// session, and another session of the same address, stream from B.
func TestLeaveEndsStreamsOnEveryInstance(t *testing.T) {
	_, insts := startInstances(t, 2, "cz-leave", nil)
	a, b := insts[0], insts[1]

	bobOnA := join(t, a.URL, "bob@example.com")
	bobOnB := bobOnA.at(b.URL)
	if !bobOnB.joined() {
		t.Fatal("a session started on A is not known on B")
	}
	s := bobOnB.open("", "")
	bobOnA.leave(false)
	s.endsWithin(t, time.Second, "the session's stream on B")
	bobOnB.refused("the session on B")

	phone := join(t, a.URL, "bob@example.com")
	laptop := join(t, b.URL, "bob@example.com")
	ann := join(t, b.URL, "ann@example.com")
	onLaptop, onAnn := laptop.open("", ""), ann.open("", "")
	phone.leave(true)
	onLaptop.endsWithin(t, time.Second, "the laptop's stream on B, after leaving on every device")
	laptop.refused("the laptop")
	select {
	case <-onAnn.ended:
		t.Error("someone else's stream ended")
	case <-time.After(600 * time.Millisecond):
	}
	if !ann.joined() {
		t.Error("someone else was signed out")
	}
}
