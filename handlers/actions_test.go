package handlers_test

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/stream"
)

func TestJoin(t *testing.T) {
	tests := []struct {
		name, email string
		wantStatus  int
		wantError   string // part of the message shown on the page
	}{
		{"valid", "bob@example.com", http.StatusSeeOther, ""},
		{"surrounding space trimmed", "  bob@example.com ", http.StatusSeeOther, ""},
		{"empty", "", http.StatusUnprocessableEntity, "Type your email"},
		{"blank", "   ", http.StatusUnprocessableEntity, "Type your email"},
		{"no at sign", "bob.example.com", http.StatusUnprocessableEntity, "doesn't look like an email"},
		{"display name", "Bob <bob@example.com>", http.StatusUnprocessableEntity, "can't contain"},
		{"markup", `"<script>"@example.com`, http.StatusUnprocessableEntity, "can't contain"},
		{"two addresses", "a@example.com, b@example.com", http.StatusUnprocessableEntity, "doesn't look like an email"},
		{"too long", strings.Repeat("a", 243) + "@example.com", http.StatusUnprocessableEntity, "too long"},
		{"apostrophe", "o'brien@example.com", http.StatusSeeOther, ""},
		{"ampersand", "a&b@example.com", http.StatusUnprocessableEntity, "can't contain"},
		{"longest allowed", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 57) + ".com", http.StatusSeeOther, ""},
		{"invalid UTF-8", "bob\xff@example.com", http.StatusUnprocessableEntity, "not text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t)
			c := ts.client(t)
			resp := post(t, c, ts.URL+"/join", url.Values{"email": {tt.email}}, false)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d; body:\n%s", resp.StatusCode, tt.wantStatus, resp.body)
			}
			if tt.wantStatus == http.StatusSeeOther {
				if loc := resp.Header.Get("Location"); loc != "/" {
					t.Errorf("Location %q", loc)
				}
				home := get(t, c, ts.URL+"/").doc(t)
				if home.Find("#messages").Length() != 1 || !strings.Contains(home.Find("header").Text(), strings.TrimSpace(tt.email)) {
					t.Error("after joining, the page does not show the chat and who you are")
				}
				return
			}
			if len(resp.Cookies()) != 0 {
				t.Errorf("refused join set cookies %v", resp.Cookies())
			}
			d := resp.doc(t)
			if got := d.Find(".error").Text(); !strings.Contains(got, tt.wantError) {
				t.Errorf("error %q, want it to contain %q", got, tt.wantError)
			}
			input := d.Find(`form[action="/join"] input[name="email"]`)
			if v, _ := input.Attr("value"); v != strings.ToValidUTF8(tt.email, "\uFFFD") && v != tt.email {
				t.Errorf("typed value not kept: %q", v)
			}
			if strings.Contains(resp.body, "<script>") {
				t.Error("typed markup reached the page unescaped")
			}
			// Still not joined.
			if get(t, c, ts.URL+"/").doc(t).Find("#messages").Length() != 0 {
				t.Error("refused join started a session")
			}
		})
	}
}

func TestCreateMessage(t *testing.T) {
	tests := []struct {
		name       string
		text       string
		htmx       bool
		wantStatus int
		wantStored string // "" when nothing may be stored
		wantError  string
	}{
		{"plain form", "hello", false, http.StatusSeeOther, "hello", ""},
		{"htmx", "hello", true, http.StatusOK, "hello", ""},
		{"trimmed, line breaks normalised", "  one\r\ntwo\rthree\n ", false, http.StatusSeeOther, "one\ntwo\nthree", ""},
		{"markup is text", "<script>alert(1)</script>", true, http.StatusOK, "<script>alert(1)</script>", ""},
		{"longest allowed", strings.Repeat("é", 2000), true, http.StatusOK, strings.Repeat("é", 2000), ""},
		{"empty", "", true, http.StatusUnprocessableEntity, "", "Write a message"},
		{"only space", " \n\t ", false, http.StatusUnprocessableEntity, "", "Write a message"},
		{"too long", strings.Repeat("x", 2001), true, http.StatusUnprocessableEntity, "", "too long"},
		{"too long plain", strings.Repeat("x", 2001), false, http.StatusUnprocessableEntity, "", "too long"},
		{"invalid UTF-8", "hi \xff\xfe", true, http.StatusUnprocessableEntity, "", "not text"},
		{"control character", "bell\x07", true, http.StatusUnprocessableEntity, "", "control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t)
			c := ts.joined(t, "bob@example.com")
			sub, err := ts.hub.Subscribe()
			if err != nil {
				t.Fatal(err)
			}
			resp := post(t, c, ts.URL+"/messages", url.Values{"message": {tt.text}}, tt.htmx)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d; body:\n%s", resp.StatusCode, tt.wantStatus, resp.body)
			}
			stored := ts.messages(t)
			if tt.wantStored == "" {
				if len(stored) != 0 {
					t.Fatalf("refused message was stored: %+v", stored)
				}
				select {
				case e := <-sub.Events():
					t.Fatalf("refused message was published: %q", e.Frame)
				case <-time.After(50 * time.Millisecond):
				}
				d := resp.doc(t)
				if got := d.Find("#composer .error").Text(); !strings.Contains(got, tt.wantError) {
					t.Errorf("composer error %q, want it to contain %q", got, tt.wantError)
				}
				if tt.htmx && d.Find("#messages").Length() != 0 {
					t.Error("htmx request got a whole page, want the composer alone")
				}
				if !tt.htmx && d.Find("#messages").Length() != 1 {
					t.Error("plain form got no page with the chat")
				}
				if strings.Contains(resp.body, "<script>") {
					t.Error("typed markup reached the page unescaped")
				}
				return
			}
			if len(stored) != 1 || stored[0].Content != tt.wantStored || stored[0].Sender != "bob@example.com" {
				t.Fatalf("stored %+v, want one message %q from bob@example.com", stored, tt.wantStored)
			}
			select {
			case e := <-sub.Events():
				if e.ID != stored[0].ID || !strings.HasPrefix(string(e.Frame), "id: ") {
					t.Errorf("published %+v for message %d", e, stored[0].ID)
				}
			case <-time.After(time.Second):
				t.Fatal("stored message was not published")
			}
			if tt.htmx {
				d := resp.doc(t)
				area := d.Find("form#composer textarea[name=message]")
				if area.Length() != 1 || area.Text() != "" {
					t.Errorf("want a fresh empty composer, got:\n%s", resp.body)
				}
				if _, ok := area.Attr("autofocus"); !ok {
					t.Error("fresh composer does not keep focus")
				}
				if d.Find("li").Length() != 0 {
					t.Error("htmx response shows the message; the stream must be its only path")
				}
			} else if loc := resp.Header.Get("Location"); loc != "/" {
				t.Errorf("Location %q", loc)
			}
		})
	}
}

func TestNotJoined(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)

	if resp := post(t, c, ts.URL+"/messages", url.Values{"message": {"hi"}}, false); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Errorf("plain post without session: %d %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp := post(t, c, ts.URL+"/messages", url.Values{"message": {"hi"}}, true)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.body, "join again") {
		t.Errorf("htmx post without session: %d %q, want 401 with a message", resp.StatusCode, resp.body)
	}
	if ms := ts.messages(t); len(ms) != 0 {
		t.Errorf("stored %+v without a session", ms)
	}
	if resp := get(t, c, ts.URL+"/events"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("stream without session: %d, want 401", resp.StatusCode)
	}
}

func TestGarbageCookieMeansNotJoined(t *testing.T) {
	ts := newTestServer(t)
	for _, value := range []string{"garbage", "MTc5NTYwNDg0Mnxn", strings.Repeat("A", 3000)} {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
		req.AddCookie(&http.Cookie{Name: "chatzilla", Value: value})
		resp := do(t, ts.client(t), req)
		if resp.StatusCode != http.StatusOK || resp.doc(t).Find(`form[action="/join"]`).Length() != 1 {
			t.Errorf("cookie %.20q: %d, want the join page", value, resp.StatusCode)
		}
	}
}

func TestLeaveEndsSession(t *testing.T) {
	ts := newTestServer(t)
	c := ts.joined(t, "bob@example.com")
	resp := post(t, c, ts.URL+"/leave", nil, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("leave: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if get(t, c, ts.URL+"/").doc(t).Find(`form[action="/join"]`).Length() != 1 {
		t.Error("after leaving, the page is not the join form")
	}
	if resp := post(t, c, ts.URL+"/messages", url.Values{"message": {"hi"}}, true); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("post after leaving: %d, want 401", resp.StatusCode)
	}
}

func TestStreamRejectsBadStart(t *testing.T) {
	ts := newTestServer(t)
	c := ts.joined(t, "bob@example.com")
	for _, u := range []string{"/events?after=abc", "/events?after=-1"} {
		if resp := get(t, c, ts.URL+u); resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.body, "message id") {
			t.Errorf("GET %s: %d %q, want 400 explaining the id", u, resp.StatusCode, resp.body)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/events", nil)
	req.Header.Set("Last-Event-ID", "x1")
	if resp := do(t, c, req); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad Last-Event-ID: %d, want 400", resp.StatusCode)
	}
}

// openEvents opens c's stream at u (/events, with or without a start); it
// is closed when the test ends, and ends by itself after 5 s.
func openEvents(t *testing.T, c *http.Client, u string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestStreamHeadersAndFirstComment(t *testing.T) {
	ts := newTestServer(t)
	c := ts.joined(t, "bob@example.com")
	resp := openEvents(t, c, ts.URL+"/events")
	for h, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	// Nothing has been posted: the comment must arrive on its own, flushed.
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, ":") {
		t.Fatalf("first line %q (%v), want a comment", line, err)
	}
}

func TestHealthz(t *testing.T) {
	ts := newTestServer(t)
	if resp := get(t, ts.client(t), ts.URL+"/healthz"); resp.StatusCode != http.StatusOK {
		t.Fatalf("healthy store: %d", resp.StatusCode)
	}
	ts.store.Close()
	if resp := get(t, ts.client(t), ts.URL+"/healthz"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("closed store: %d, want 503", resp.StatusCode)
	}
}

func TestErrorsAreClearPages(t *testing.T) {
	ts := newTestServer(t)
	c := ts.joined(t, "bob@example.com")

	resp := get(t, c, ts.URL+"/no/such/page")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(resp.body, "There is no such page") || !strings.Contains(resp.body, "<title>Chatzilla</title>") {
		t.Errorf("404: %d\n%s", resp.StatusCode, resp.body)
	}
	big := url.Values{"message": {strings.Repeat("x", 70<<10)}}
	resp = post(t, c, ts.URL+"/messages", big, true)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(resp.body, "too much") {
		t.Errorf("huge body: %d\n%s", resp.StatusCode, resp.body)
	}
	if ms := ts.messages(t); len(ms) != 0 {
		t.Errorf("huge body stored %d messages", len(ms))
	}
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/no/such/page", nil)
	if resp := do(t, c, req); resp.Header.Get("Content-Type") != "text/plain; charset=UTF-8" {
		t.Errorf("non-browser client got %q, want plain text", resp.Header.Get("Content-Type"))
	}
}

func TestIdleStreamsGetHeartbeats(t *testing.T) {
	ts := newTestServer(t, func(c *stream.Config) { c.Heartbeat = 20 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/events", nil)
	resp, err := ts.joined(t, "idle@example.com").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == ": heartbeat\n" {
			return
		}
	}
	t.Fatal("no heartbeat on an idle stream")
}

// TestIdleStreamOutlivesItsWriteTimeout: the write timeout bounds one write,
// not a stream's life. A stream that has sent nothing for longer than the
// timeout must still deliver the next message (the hub writes to idle
// streams itself, and must not trip over a deadline set long before).
func TestIdleStreamOutlivesItsWriteTimeout(t *testing.T) {
	ts := newTestServer(t, func(c *stream.Config) { c.WriteTimeout = 100 * time.Millisecond })
	c := ts.joined(t, "patient@example.com")
	resp := openEvents(t, c, ts.URL+"/events")
	r := bufio.NewReader(resp.Body)
	if line, err := r.ReadString('\n'); err != nil || strings.TrimSpace(line) != ": connected" {
		t.Fatalf("first line %q, %v", line, err)
	}
	time.Sleep(400 * time.Millisecond) // four write timeouts of silence

	if resp := post(t, c, ts.URL+"/messages", url.Values{"message": {"still here"}}, true); resp.StatusCode != http.StatusOK {
		t.Fatalf("post: %d", resp.StatusCode)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended before the message arrived: %v", err)
		}
		if strings.HasPrefix(line, "data: ") && strings.Contains(line, "still here") {
			return
		}
	}
}
