package handlers_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/handlers"
	"github.com/chatzilla/chatzilla/hub"
	"github.com/chatzilla/chatzilla/stream"
)

func TestCrossOriginPostsAreRefused(t *testing.T) {
	ts := newTestServer(t)
	tests := []struct {
		name       string
		headers    map[string]string
		wantStatus int
	}{
		{"cross-site fetch metadata", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"same-site other origin", map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"foreign Origin, no metadata", map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"same origin", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": ts.URL}, http.StatusSeeOther},
		{"typed by the person", map[string]string{"Sec-Fetch-Site": "none"}, http.StatusSeeOther},
		{"non-browser client", nil, http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ts.joined(t, "bob@example.com")
			before := len(ts.messages(t))
			for _, path := range []string{"/messages", "/join", "/leave"} {
				req, _ := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(url.Values{"message": {"hi"}, "email": {"eve@example.com"}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Accept", "text/html")
				for k, v := range tt.headers {
					req.Header.Set(k, v)
				}
				resp := do(t, c, req)
				if resp.StatusCode != tt.wantStatus {
					t.Fatalf("POST %s: %d, want %d", path, resp.StatusCode, tt.wantStatus)
				}
				if tt.wantStatus == http.StatusForbidden && (!strings.Contains(resp.body, "another site") || len(resp.Cookies()) != 0) {
					t.Errorf("POST %s: refusal without a clear message, or with a cookie: %v\n%s", path, resp.Cookies(), resp.body)
				}
			}
			stored := len(ts.messages(t)) - before
			if want := map[bool]int{true: 0, false: 1}[tt.wantStatus == http.StatusForbidden]; stored != want {
				t.Errorf("stored %d messages, want %d", stored, want)
			}
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	for _, trust := range []bool{false, true} {
		ts := newTestServer(t, func(o *handlers.Options) { o.TrustProxy = trust })
		for _, path := range []string{"/", "/no/such/page", "/healthz", "/assets/app.css"} {
			req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
			req.Header.Set("X-Forwarded-Proto", "https")
			resp := do(t, ts.client(t), req)
			csp := resp.Header.Get("Content-Security-Policy")
			for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("%s: CSP %q lacks %q", path, csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-") {
				t.Errorf("%s: CSP allows unsafe sources: %q", path, csp)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Referrer-Policy") == "" {
				t.Errorf("%s: missing nosniff or Referrer-Policy: %v", path, resp.Header)
			}
			if hsts := resp.Header.Get("Strict-Transport-Security"); (hsts != "") != trust {
				t.Errorf("%s behind proxy=%v with X-Forwarded-Proto https: HSTS %q", path, trust, hsts)
			}
		}
	}
}

func TestSessionCookie(t *testing.T) {
	for _, tt := range []struct {
		trustProxy, viaHTTPS, wantSecure bool
	}{
		{false, false, false},
		{false, true, false}, // a client cannot claim HTTPS by header
		{true, false, false},
		{true, true, true},
	} {
		ts := newTestServer(t, func(o *handlers.Options) { o.TrustProxy = tt.trustProxy })
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/join", strings.NewReader("email=bob%40example.com"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if tt.viaHTTPS {
			req.Header.Set("X-Forwarded-Proto", "https")
		}
		resp := do(t, ts.client(t), req)
		raw := resp.Header.Get("Set-Cookie")
		for _, want := range []string{"HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=2592000"} {
			if !strings.Contains(raw, want) {
				t.Errorf("cookie %q lacks %s", raw, want)
			}
		}
		if strings.Contains(raw, "Secure") != tt.wantSecure {
			t.Errorf("trustProxy=%v https=%v: cookie %q, want Secure=%v", tt.trustProxy, tt.viaHTTPS, raw, tt.wantSecure)
		}
		if strings.Contains(raw, "bob") {
			t.Errorf("cookie shows its content: %q", raw)
		}
	}
}

func TestSessionSecretRotation(t *testing.T) {
	oldSecret, newSecret := strings.Repeat("o", 32), strings.Repeat("n", 32)
	withSecrets := func(s ...string) func(*handlers.Options) {
		return func(o *handlers.Options) { o.Sessions = handlers.NewSessionStore(s[0], s[1:]...) }
	}
	before := newTestServer(t, withSecrets(oldSecret))
	c := before.joined(t, "bob@example.com")
	u, _ := url.Parse(before.URL)
	cookies := c.Jar.Cookies(u)

	for _, tt := range []struct {
		name       string
		secrets    []string
		wantJoined bool
	}{
		{"old secret kept for reading", []string{newSecret, oldSecret}, true},
		{"old secret retired", []string{newSecret}, false},
	} {
		// The server restarted with other secrets, on the same database.
		after := newTestServer(t, withSecrets(tt.secrets...), func(o *handlers.Options) { o.SessionRecords = before.store })
		req, _ := http.NewRequest(http.MethodGet, after.URL+"/", nil)
		for _, ck := range cookies {
			req.AddCookie(ck)
		}
		resp := do(t, after.client(t), req)
		if joined := resp.doc(t).Find("#messages").Length() == 1; resp.StatusCode != http.StatusOK || joined != tt.wantJoined {
			t.Errorf("%s: status %d, joined=%v, want joined=%v", tt.name, resp.StatusCode, joined, tt.wantJoined)
		}
	}
}

func TestExpiredSessionMeansNotJoined(t *testing.T) {
	ts := newTestServer(t, func(o *handlers.Options) {
		store := handlers.NewSessionStore(strings.Repeat("k", 32))
		store.MaxAge(1) // cookies older than a second are refused
		o.Sessions = store
	})
	c := ts.joined(t, "bob@example.com")
	time.Sleep(2100 * time.Millisecond)
	if resp := post(t, c, ts.URL+"/messages", url.Values{"message": {"hi"}}, true); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("post with an expired session: %d, want 401", resp.StatusCode)
	}
}

// postFrom posts a message as if from client address ip (the server trusts
// X-Forwarded-For in these tests).
func postFrom(t *testing.T, c *http.Client, u, ip, text string) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(url.Values{"message": {text}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("HX-Request", "true")
	req.Header.Set("X-Forwarded-For", ip)
	return do(t, c, req)
}

// slowRefill makes a bucket refill one token an hour, so that a test that
// spends the burst is not given more tokens by a slow machine.
const slowRefill = 1.0 / 3600

func TestFloodControl(t *testing.T) {
	ts := newTestServer(t, func(o *handlers.Options) {
		o.TrustProxy = true
		o.Limits.MessagesPerSecond = slowRefill
	})
	flooder, other := ts.joined(t, "flood@example.com"), ts.joined(t, "calm@example.com")

	for i := range 20 { // the burst
		if resp := postFrom(t, flooder, ts.URL+"/messages", "192.0.2.1", fmt.Sprint("m", i)); resp.StatusCode != http.StatusOK {
			t.Fatalf("message %d of the burst: %d", i, resp.StatusCode)
		}
	}
	resp := postFrom(t, flooder, ts.URL+"/messages", "192.0.2.1", "one too many")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("past the burst: %d Retry-After %q, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	d := resp.doc(t)
	if !strings.Contains(d.Find("#composer .error").Text(), "too fast") || d.Find("#composer textarea").Text() != "one too many" {
		t.Errorf("429 composer should keep the text and say why:\n%s", resp.body)
	}
	// The same session from another address is still limited...
	if resp := postFrom(t, flooder, ts.URL+"/messages", "192.0.2.99", "new address"); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("flooding session from a new address: %d, want 429", resp.StatusCode)
	}
	// ...while someone else is not slowed.
	if resp := postFrom(t, other, ts.URL+"/messages", "198.51.100.7", "hello"); resp.StatusCode != http.StatusOK {
		t.Errorf("another person: %d, want 200", resp.StatusCode)
	}
	if n := len(ts.messages(t)); n != 21 {
		t.Errorf("stored %d messages, want 21", n)
	}
}

func TestFloodControlPerAddress(t *testing.T) {
	ts := newTestServer(t, func(o *handlers.Options) {
		o.TrustProxy = true
		o.Limits.JoinBurst = 100
		o.Limits.MessagesPerSecond = slowRefill
	})
	// Fresh sessions for every post do not get around the address's bucket.
	accepted := 0
	for range 30 {
		if postFrom(t, ts.joined(t, "bot@example.com"), ts.URL+"/messages", "203.0.113.5", "spam").StatusCode == http.StatusOK {
			accepted++
		}
	}
	if accepted != 20 {
		t.Errorf("accepted %d posts from one address, want the burst of 20", accepted)
	}
}

func TestJoinFloodControl(t *testing.T) {
	ts := newTestServer(t, func(o *handlers.Options) { o.Limits.JoinsPerSecond = slowRefill })
	for i := range 10 {
		if resp := post(t, ts.client(t), ts.URL+"/join", url.Values{"email": {"bob@example.com"}}, false); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("join %d: %d", i, resp.StatusCode)
		}
	}
	resp := post(t, ts.client(t), ts.URL+"/join", url.Values{"email": {"bob@example.com"}}, false)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(resp.body, "Too many joins") {
		t.Errorf("11th join: %d %q\n%s", resp.StatusCode, resp.Header.Get("Retry-After"), resp.body)
	}
}

func TestFloodControlOff(t *testing.T) {
	ts := newTestServer(t, func(o *handlers.Options) { o.Limits.FloodControl = false })
	c := ts.joined(t, "load@example.com")
	for i := range 100 {
		if resp := post(t, c, ts.URL+"/messages", url.Values{"message": {"x"}}, true); resp.StatusCode != http.StatusOK {
			t.Fatalf("post %d with flood control off: %d", i, resp.StatusCode)
		}
	}
}

// openStream opens /events and returns once the first comment arrived.
func openStream(t *testing.T, c *http.Client, base string) (status int, retryAfter string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/events", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode == http.StatusOK {
		if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

func TestStreamLimits(t *testing.T) {
	ts := newTestServer(t, func(o *handlers.Options) { o.Limits.MaxStreams = 12 })
	tabs := ts.joined(t, "tabs@example.com")
	for i := range 10 {
		if status, _ := openStream(t, tabs, ts.URL); status != http.StatusOK {
			t.Fatalf("stream %d of one session: %d", i, status)
		}
	}
	if status, retry := openStream(t, tabs, ts.URL); status != http.StatusServiceUnavailable || retry == "" {
		t.Errorf("11th stream of one session: %d Retry-After %q, want 503 with Retry-After", status, retry)
	}
	other := ts.joined(t, "other@example.com")
	for i := range 2 {
		if status, _ := openStream(t, other, ts.URL); status != http.StatusOK {
			t.Fatalf("other session's stream %d: %d", i, status)
		}
	}
	if status, _ := openStream(t, other, ts.URL); status != http.StatusServiceUnavailable {
		t.Errorf("stream past the total: %d, want 503", status)
	}
}

// TestStalledReaderIsDropped opens a stream whose reader never reads: once
// the socket buffers are full, the write deadline must end the stream and
// free its slot, rather than hold a goroutine and memory forever.
func TestStalledReaderIsDropped(t *testing.T) {
	ts := newTestServer(t,
		func(o *handlers.Options) { o.Limits.MaxStreams = 1 },
		func(c *stream.Config) { c.WriteTimeout = 200 * time.Millisecond })
	c := ts.joined(t, "slow@example.com")
	addr, request := ts.rawStreamRequest(c, "")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write(request)
	waitFor(t, func() bool { return ts.live.Streams() == 1 }, "the stalled stream to subscribe")

	if status, _ := openStream(t, c, ts.URL); status != http.StatusServiceUnavailable {
		t.Fatalf("second stream while the stalled one holds the only slot: %d, want 503", status)
	}
	frame := []byte("id: 1\ndata: " + strings.Repeat("x", 64<<10) + "\n\n")
	for i := 0; i < 400 && ts.live.Streams() > 0; i++ { // up to 25 MiB, more than loopback buffers hold
		ts.hub.Publish(hub.Event{ID: int64(i + 1), Frame: frame})
		time.Sleep(time.Millisecond)
	}
	waitFor(t, func() bool {
		status, _ := openStream(t, c, ts.URL)
		return status == http.StatusOK
	}, "the stalled stream's slot to be freed")
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
