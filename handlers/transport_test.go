package handlers_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/assets"
	"github.com/chatzilla/chatzilla/handlers"
)

// fetch sends method to u with the given Accept-Encoding, set by hand so
// that the client neither adds gzip nor decompresses: the test sees the
// bytes as sent.
func fetch(t *testing.T, c *http.Client, method, u, acceptEncoding string, header ...string) response {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	req.Header.Set("Accept", "text/html")
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	} else {
		req.Header.Set("Accept-Encoding", "identity")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, c, req)
}

func gunzip(t *testing.T, s string) string {
	t.Helper()
	zr, err := gzip.NewReader(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sendKey is the composer's one-time key, new on every render.
var sendKey = regexp.MustCompile(`name="key" value="[^"]*"`)

func withoutSendKey(page string) string {
	return sendKey.ReplaceAllString(page, `name="key" value=""`)
}

func varies(r response, header string) bool {
	for _, v := range r.Header.Values("Vary") {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), header) {
				return true
			}
		}
	}
	return false
}

func TestTextResponsesAreGzipped(t *testing.T) {
	ts := newTestServer(t)
	files, err := assets.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	for range 30 { // a chat page long enough to be worth compressing
		if _, err := ts.store.AddMessage(context.Background(), "ann@example.com", "hello there"); err != nil {
			t.Fatal(err)
		}
	}
	anonymous, joined := ts.client(t), ts.joined(t, "bob@example.com")
	tests := []struct {
		name   string
		client *http.Client
		path   string
	}{
		{"join page", anonymous, "/"},
		{"chat page", joined, "/"},
		{"history page", joined, "/?before=20"},
		{"stylesheet", anonymous, files.URL(assets.Stylesheet)},
		{"script", anonymous, files.URL(assets.Script)},
		{"stylesheet, unversioned", anonymous, assets.Prefix + assets.Stylesheet},
	}
	if files.Has(assets.HTMX) {
		tests = append(tests, struct {
			name   string
			client *http.Client
			path   string
		}{"htmx", anonymous, files.URL(assets.HTMX)})
	}
	for _, tt := range tests {
		plain := fetch(t, tt.client, http.MethodGet, ts.URL+tt.path, "")
		zipped := fetch(t, tt.client, http.MethodGet, ts.URL+tt.path, "gzip, deflate, br")
		if plain.StatusCode != http.StatusOK || zipped.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d / %d", tt.name, plain.StatusCode, zipped.StatusCode)
			continue
		}
		if ce := plain.Header.Get("Content-Encoding"); ce != "" {
			t.Errorf("%s: Content-Encoding %q to a client that accepts none", tt.name, ce)
		}
		if ce := zipped.Header.Get("Content-Encoding"); ce != "gzip" {
			t.Errorf("%s: Content-Encoding %q, want gzip", tt.name, ce)
			continue
		}
		if !varies(zipped, "Accept-Encoding") || !varies(plain, "Accept-Encoding") {
			t.Errorf("%s: Vary %q lacks Accept-Encoding", tt.name, zipped.Header.Values("Vary"))
		}
		if len(zipped.body) >= len(plain.body) {
			t.Errorf("%s: gzipped %d bytes, plain %d", tt.name, len(zipped.body), len(plain.body))
		}
		if got := gunzip(t, zipped.body); withoutSendKey(got) != withoutSendKey(plain.body) {
			t.Errorf("%s: gunzipped body differs from the plain one", tt.name)
		}
	}
}

// TestStreamStaysLiveWhenGzipIsAccepted: a browser always offers gzip. The
// stream must still be sent as is, and an event must arrive at once, not
// when some compressor's buffer fills.
func TestStreamStaysLiveWhenGzipIsAccepted(t *testing.T) {
	ts := newTestServer(t)
	c := ts.joined(t, "bob@example.com")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/events?after=0", nil)
	req.Header.Set("Accept-Encoding", "gzip, deflate, br")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "" {
		t.Fatalf("stream sent with Content-Encoding %q", ce)
	}
	// Nor may the compressor have had a hand in it: it would say so.
	if varies(response{Response: resp}, "Accept-Encoding") {
		t.Errorf("stream's Vary %q: the compressor wrapped it", resp.Header.Values("Vary"))
	}
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		r := bufio.NewReader(resp.Body)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			lines <- line
		}
	}()
	if first := <-lines; !strings.HasPrefix(first, ":") {
		t.Fatalf("first line %q, want the opening comment", first)
	}

	sent := time.Now()
	if r := post(t, c, ts.URL+"/messages", url.Values{"message": {"live and uncompressed"}}, true); r.StatusCode != http.StatusOK {
		t.Fatalf("post: %d", r.StatusCode)
	}
	deadline := time.After(2 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("stream ended")
			}
			if strings.Contains(line, "live and uncompressed") {
				t.Logf("event arrived %v after the post", time.Since(sent).Round(time.Millisecond))
				return
			}
		case <-deadline:
			t.Fatal("no event within 2 s of the post")
		}
	}
}

// TestHeadOnEveryGetRoute checks every GET route the server has: HEAD must
// be routed too and answer what GET answers, head for head, without a body.
func TestHeadOnEveryGetRoute(t *testing.T) {
	ts := newTestServer(t)
	files, err := assets.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	anonymous, joined := ts.client(t), ts.joined(t, "bob@example.com")
	// A request to make for each route; a GET route missing here fails the
	// test, so that a new one gets its HEAD checked too.
	requests := map[string][]struct {
		client *http.Client
		path   string
	}{
		"/":                   {{anonymous, "/"}, {joined, "/"}, {joined, "/?before=5"}},
		"/events":             {{joined, "/events"}, {anonymous, "/events"}},
		"/rooms/:slug":        {{joined, "/rooms/general"}, {joined, "/rooms/no-such-room"}, {anonymous, "/rooms/general"}},
		"/rooms/:slug/events": {{joined, "/rooms/general/events"}, {joined, "/rooms/no-such-room/events"}},
		"/healthz":            {{anonymous, "/healthz"}},
		"/here":               {{joined, "/here"}, {anonymous, "/here"}},
		"/robots.txt":         {{anonymous, "/robots.txt"}},
		"/check-inbox":        {{anonymous, "/check-inbox"}},
		"/profile":            {{joined, "/profile"}, {anonymous, "/profile"}},
		"/sign-in":            {{anonymous, "/sign-in?token=nosuchtoken"}, {anonymous, "/sign-in"}},
		assets.Prefix + "*":   {{anonymous, files.URL(assets.Stylesheet)}, {anonymous, assets.Prefix + assets.Icon}, {anonymous, assets.Prefix + "missing.css"}},
	}
	heads := map[string]bool{}
	var gets []string
	for _, r := range ts.echo.Routes() {
		switch r.Method {
		case http.MethodHead:
			heads[r.Path] = true
		case http.MethodGet:
			gets = append(gets, r.Path)
		}
	}
	slices.Sort(gets)
	for _, path := range slices.Compact(gets) {
		if !heads[path] {
			t.Errorf("GET %s has no HEAD route", path)
		}
		if len(requests[path]) == 0 {
			t.Errorf("GET %s: the test has no request for this route", path)
		}
		for _, rq := range requests[path] {
			head := fetch(t, rq.client, http.MethodHead, ts.URL+rq.path, "gzip")
			var got response
			if strings.HasSuffix(path, "/events") {
				got = headOfStream(t, rq.client, ts.URL+rq.path)
			} else {
				got = fetch(t, rq.client, http.MethodGet, ts.URL+rq.path, "gzip")
			}
			if head.StatusCode != got.StatusCode {
				t.Errorf("HEAD %s: %d, GET: %d", rq.path, head.StatusCode, got.StatusCode)
			}
			if head.body != "" {
				t.Errorf("HEAD %s: body %q", rq.path, head.body)
			}
			for _, h := range []string{"Content-Type", "Content-Encoding", "Cache-Control", "Vary", "ETag", "Content-Security-Policy"} {
				if hv, gv := strings.Join(head.Header.Values(h), ", "), strings.Join(got.Header.Values(h), ", "); hv != gv {
					t.Errorf("HEAD %s: %s %q, GET: %q", rq.path, h, hv, gv)
				}
			}
		}
	}
}

// headOfStream opens a stream and closes it once its head has arrived.
func headOfStream(t *testing.T, c *http.Client, u string) response {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return response{Response: resp}
}

func TestPagesSayHowTheyMayBeCached(t *testing.T) {
	ts := newTestServer(t)
	anonymous, joined := ts.client(t), ts.joined(t, "bob@example.com")
	tests := []struct {
		name      string
		client    *http.Client
		path      string
		wantCache string
	}{
		{"join page", anonymous, "/", "no-cache"},
		{"chat page", joined, "/", "no-store"},
		{"older messages", joined, "/?before=5", "private, no-cache"},
	}
	for _, tt := range tests {
		r := fetch(t, tt.client, http.MethodGet, ts.URL+tt.path, "gzip")
		if got := r.Header.Get("Cache-Control"); got != tt.wantCache {
			t.Errorf("%s: Cache-Control %q, want %q", tt.name, got, tt.wantCache)
		}
		if !varies(r, "Cookie") {
			t.Errorf("%s: Vary %q lacks Cookie, though the page depends on the session", tt.name, r.Header.Values("Vary"))
		}
		if r.Header.Get("Set-Cookie") != "" && tt.client == anonymous {
			t.Errorf("%s: sets a cookie on an anonymous visit", tt.name)
		}
	}
}

func TestRobotsTxt(t *testing.T) {
	ts := newTestServer(t)
	r := fetch(t, ts.client(t), http.MethodGet, ts.URL+"/robots.txt", "")
	if r.StatusCode != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("robots.txt: %d %q", r.StatusCode, r.Header.Get("Content-Type"))
	}
	// The join page, the one public page, may be crawled; the stream not.
	if !strings.Contains(r.body, "User-agent: *\n") || !strings.Contains(r.body, "Disallow: /events\n") ||
		strings.Contains(r.body, "Disallow: /\n") {
		t.Errorf("robots.txt:\n%s", r.body)
	}
}

// TestScriptsOnlyWhereUsedAndDeferred: the join and error pages are plain
// forms and links; the chat page's scripts wait for the page to be parsed.
func TestScriptsOnlyWhereUsedAndDeferred(t *testing.T) {
	ts := newTestServer(t)
	anonymous, joined := ts.client(t), ts.joined(t, "bob@example.com")
	for _, tt := range []struct {
		name        string
		client      *http.Client
		path        string
		wantScripts bool
	}{
		{"join page", anonymous, "/", false},
		{"not found page", anonymous, "/no/such/page", false},
		{"chat page", joined, "/", true},
	} {
		d := fetch(t, tt.client, http.MethodGet, ts.URL+tt.path, "").doc(t)
		scripts := d.Find("script")
		if (scripts.Length() > 0) != tt.wantScripts {
			t.Errorf("%s: %d scripts, want some: %v", tt.name, scripts.Length(), tt.wantScripts)
		}
		for i := range scripts.Length() {
			if _, deferred := scripts.Eq(i).Attr("defer"); !deferred {
				src, _ := scripts.Eq(i).Attr("src")
				t.Errorf("%s: script %s is not deferred", tt.name, src)
			}
		}
		if desc, _ := d.Find(`head meta[name="description"]`).Attr("content"); len(desc) < 50 {
			t.Errorf("%s: meta description %q", tt.name, desc)
		}
	}
}

func TestGzipIsNotForTinyBodies(t *testing.T) {
	ts := newTestServer(t)
	r := fetch(t, ts.client(t), http.MethodGet, ts.URL+"/healthz", "gzip")
	if r.StatusCode != http.StatusOK || r.Header.Get("Content-Encoding") != "" || !bytes.Equal([]byte(r.body), []byte("ok\n")) {
		t.Errorf("healthz: %d %q %q", r.StatusCode, r.Header.Get("Content-Encoding"), r.body)
	}
}

// Answers to posts are redirects and composer fragments: too small to gain
// from gzip, and a compressor for each concurrent post cost about a
// megabyte of server memory while a crowd joined.
func TestPostsAreNotCompressed(t *testing.T) {
	ts := newTestServer(t)
	c := ts.joined(t, "ann@example.com")
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/messages",
		strings.NewReader(url.Values{"message": {"hello"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("HX-Request", "true")
	req.Header.Set("Accept-Encoding", "gzip")
	r := do(t, c, req)
	if r.StatusCode != http.StatusOK || len(r.body) < 256 {
		t.Fatalf("send: %d, %d bytes; want 200 and a composer longer than 256 bytes", r.StatusCode, len(r.body))
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" {
		t.Errorf("send answered with Content-Encoding %q", ce)
	}
	if !strings.Contains(r.body, `name="message"`) {
		t.Errorf("send: no composer in %q", r.body)
	}
}

// TestStreamOverHTTP2IsRefusedClearly: a stream takes its connection over,
// which HTTP/2 does not allow. The answer is a 505 with a sentence, and the
// stream's place is given back, rather than a 500; pages still work.
func TestStreamOverHTTP2IsRefusedClearly(t *testing.T) {
	logs := &lockedBuffer{}
	ts := newTestServer(t, logTo(logs), func(o *handlers.Options) { o.Limits.MaxStreamsPerSession = 1 })
	h2 := httptest.NewUnstartedServer(ts.echo)
	h2.EnableHTTP2 = true
	h2.StartTLS()
	t.Cleanup(h2.Close)
	c := h2.Client()
	c.Jar, _ = cookiejar.New(nil)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	if resp := post(t, c, h2.URL+"/join", url.Values{"email": {"ann@example.com"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("join over HTTP/2: %d", resp.StatusCode)
	}
	for range 2 { // the second would be refused for the session's one place if the first kept it
		req, _ := http.NewRequest(http.MethodGet, h2.URL+"/events", nil)
		req.Header.Set("HX-Request", "true")
		resp := do(t, c, req)
		if resp.ProtoMajor != 2 {
			t.Fatalf("the test server spoke %s, not HTTP/2", resp.Proto)
		}
		if resp.StatusCode != http.StatusHTTPVersionNotSupported || !strings.Contains(resp.body, "needs HTTP/1.1") {
			t.Fatalf("stream over HTTP/2: %d %q, want 505 saying it needs HTTP/1.1", resp.StatusCode, resp.body)
		}
	}
	if !strings.Contains(logs.String(), "stream refused: the connection cannot be taken over") {
		t.Errorf("the refusal was not logged:\n%s", logs)
	}
	if resp := get(t, c, h2.URL+"/"); resp.StatusCode != http.StatusOK {
		t.Errorf("page over HTTP/2: %d", resp.StatusCode)
	}
}
