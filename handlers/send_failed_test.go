package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chatzilla/chatzilla/handlers"
	"github.com/chatzilla/chatzilla/store"
)

// panickyStore panics on AddMessageIn when told to, as a bug would.
type panickyStore struct {
	handlers.MessageStore
	panics atomic.Bool
}

func (p *panickyStore) AddMessageIn(ctx context.Context, roomID int64, a store.Author, content, key string) (store.Message, error) {
	if p.panics.Load() {
		panic("bug in AddMessageIn")
	}
	return p.MessageStore.AddMessageIn(ctx, roomID, a, content, key)
}

// Whatever stops a send, the answer is the composer with the person's text
// and a sentence saying why: htmx swaps it in for the composer it replaces,
// and a plain form gets a whole page with it. A body that was never read
// (413, 403) cannot be given back by the server; the page's script does it.
func TestFailedSendComesBackInTheComposer(t *testing.T) {
	var flaky *flakyStore
	var panicky *panickyStore
	ts := newTestServer(t, func(o *handlers.Options) {
		flaky = &flakyStore{MessageStore: o.Store}
		panicky = &panickyStore{MessageStore: flaky}
		o.Store = panicky
	})
	const typed = "Kept <b>as typed</b> & whole"
	tests := []struct {
		name     string
		status   int
		text     string // what the composer must hold
		reason   string // part of the sentence next to it
		htmxOnly bool
		prepare  func(t *testing.T) (c *http.Client, form url.Values, header http.Header, undo func())
	}{
		{"not joined", http.StatusUnauthorized, typed, "join again", true, func(t *testing.T) (*http.Client, url.Values, http.Header, func()) {
			return ts.client(t), url.Values{"message": {typed}}, nil, func() {}
		}},
		{"from another site", http.StatusForbidden, "", "another site", false, func(t *testing.T) (*http.Client, url.Values, http.Header, func()) {
			return ts.joined(t, "bob@example.com"), url.Values{"message": {typed}}, http.Header{"Sec-Fetch-Site": {"cross-site"}}, func() {}
		}},
		{"too large", http.StatusRequestEntityTooLarge, "", "too much", false, func(t *testing.T) (*http.Client, url.Values, http.Header, func()) {
			return ts.joined(t, "bob@example.com"), url.Values{"message": {strings.Repeat("x", 1<<20)}}, nil, func() {}
		}},
		{"empty", http.StatusUnprocessableEntity, "  ", "Write a message", false, func(t *testing.T) (*http.Client, url.Values, http.Header, func()) {
			return ts.joined(t, "bob@example.com"), url.Values{"message": {"  "}}, nil, func() {}
		}},
		{"store down", http.StatusServiceUnavailable, typed, "was not sent", false, func(t *testing.T) (*http.Client, url.Values, http.Header, func()) {
			flaky.down.Store(true)
			return ts.joined(t, "bob@example.com"), url.Values{"message": {typed}}, nil, func() { flaky.down.Store(false) }
		}},
		{"panic", http.StatusInternalServerError, typed, "went wrong", false, func(t *testing.T) (*http.Client, url.Values, http.Header, func()) {
			panicky.panics.Store(true)
			return ts.joined(t, "bob@example.com"), url.Values{"message": {typed}}, nil, func() { panicky.panics.Store(false) }
		}},
	}
	for _, tt := range tests {
		for _, htmx := range []bool{true, false} {
			if !htmx && tt.htmxOnly {
				continue // a plain form without a session is sent to / to join (303)
			}
			name := tt.name + map[bool]string{true: " (htmx)", false: " (plain form)"}[htmx]
			t.Run(name, func(t *testing.T) {
				c, form, header, undo := tt.prepare(t)
				req, _ := http.NewRequest(http.MethodPost, ts.URL+"/messages", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Accept", "text/html")
				if htmx {
					req.Header.Set("HX-Request", "true")
				}
				for k, v := range header {
					req.Header[k] = v
				}
				resp := do(t, c, req)
				undo()
				if resp.StatusCode != tt.status {
					t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tt.status, resp.body)
				}
				d := resp.doc(t)
				forms := d.Find("form#composer")
				if forms.Length() != 1 {
					t.Fatalf("%d composers in the answer, want 1:\n%s", forms.Length(), resp.body)
				}
				if htmx && d.Find("html > body > *").First().Is("form#composer") == false {
					t.Errorf("an htmx answer must be the composer alone, to replace the one sent:\n%s", resp.body)
				}
				box := forms.Find("textarea#message")
				if got := box.Text(); got != tt.text {
					t.Errorf("the composer holds %q, want %q", got, tt.text)
				}
				if _, ok := box.Attr("autofocus"); !ok {
					t.Error("the composer does not take the cursor back")
				}
				if got := forms.Find("#message-error").Text(); !strings.Contains(got, tt.reason) {
					t.Errorf("the composer says %q, want a sentence with %q", got, tt.reason)
				}
				if ms := ts.messages(t); len(ms) != 0 {
					t.Errorf("stored %+v", ms)
				}
			})
		}
	}
}

// Without JavaScript a send after the session ended keeps its contract (303
// to the join form), and its text waits for the person to join again.
func TestPlainSendWithoutSessionKeepsTheDraft(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)
	const typed = "Written <b>before</b> the restart"
	resp := post(t, c, ts.URL+"/messages", url.Values{"message": {typed}}, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("plain post without session: %d %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	if get(t, c, ts.URL+"/").doc(t).Find("form.join #draft-kept").Length() != 1 {
		t.Error("the join form does not say the message is kept")
	}
	if resp := post(t, c, ts.URL+"/join", url.Values{"email": {"bob@example.com"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("join: %d", resp.StatusCode)
	}
	if got := get(t, c, ts.URL+"/").doc(t).Find("textarea#message").Text(); got != typed {
		t.Errorf("after joining again the composer holds %q, want %q", got, typed)
	}
	if got := get(t, c, ts.URL+"/").doc(t).Find("textarea#message").Text(); got != "" {
		t.Errorf("the draft is given once, but the next page's composer holds %q", got)
	}
	if ms := ts.messages(t); len(ms) != 0 {
		t.Errorf("stored %+v", ms)
	}

	// One too large for a cookie is not kept, and the page does not say so.
	c = ts.client(t)
	post(t, c, ts.URL+"/messages", url.Values{"message": {strings.Repeat("長", 2000)}}, false)
	if get(t, c, ts.URL+"/").doc(t).Find("#draft-kept").Length() != 0 {
		t.Error("a draft too large to keep is said to be kept")
	}
}
