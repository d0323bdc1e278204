package handlers_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chatzilla/chatzilla/handlers"
)

// TestBodyLimitFollowsMessageLength sends the longest message allowed in the
// widest characters, then a body past the limit, with and without a length.
func TestBodyLimitFollowsMessageLength(t *testing.T) {
	ts := newTestServer(t, func(o *handlers.Options) { o.MaxMessageLength = 10000 })
	c := ts.joined(t, "bob@example.com")
	for _, text := range []string{strings.Repeat("語", 10000), strings.Repeat("😀", 10000), strings.Repeat("a\r\n", 5000)} {
		resp := post(t, c, ts.URL+"/messages", url.Values{"message": {text}}, true)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("10,000 characters of %q: %d\n%.300s", text[:4], resp.StatusCode, resp.body)
		}
	}
	if ms := ts.messages(t); len(ms) != 3 {
		t.Fatalf("stored %d messages, want 3", len(ms))
	}

	huge := url.Values{"message": {strings.Repeat("語", 40000)}}.Encode()
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader(huge)
		if chunked {
			body = io.MultiReader(body) // no length known: sent chunked
		}
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/messages", body)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("HX-Request", "true")
		resp := do(t, c, req)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("oversize body (chunked=%v, length %d): %d, want 413\n%.300s", chunked, req.ContentLength, resp.StatusCode, resp.body)
		}
	}
	if ms := ts.messages(t); len(ms) != 3 {
		t.Errorf("stored %d messages, want still 3", len(ms))
	}
}
