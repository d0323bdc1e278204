package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/handlers"
	"github.com/chatzilla/chatzilla/store"
)

// composerKey is the one-time key in the composer of a page or fragment.
func composerKey(t *testing.T, r response) string {
	t.Helper()
	key, ok := r.doc(t).Find(`form#composer input[type="hidden"][name="key"]`).Attr("value")
	if !ok || len(key) < 20 {
		t.Fatalf("no one-time key in the composer (%q):\n%s", key, r.body)
	}
	return key
}

func TestEveryComposerHasANewKey(t *testing.T) {
	ts := newTestServer(t)
	c := ts.joined(t, "bob@example.com")
	seen := map[string]bool{}
	for range 2 {
		seen[composerKey(t, get(t, c, ts.URL+"/"))] = true
	}
	key := composerKey(t, get(t, c, ts.URL+"/"))
	seen[key] = true
	resp := post(t, c, ts.URL+"/messages", url.Values{"message": {"hi"}, "key": {key}}, true)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("post: %d", resp.StatusCode)
	}
	seen[composerKey(t, resp)] = true
	if len(seen) != 4 {
		t.Errorf("4 composers had %d different keys", len(seen))
	}
}

// TestRepeatedKeyStoresOnce sends one message three times with its key, as
// a browser retrying after a lost answer does: every answer is a success,
// and one message is stored and streamed.
func TestRepeatedKeyStoresOnce(t *testing.T) {
	for _, htmx := range []bool{true, false} {
		t.Run(fmt.Sprint("htmx=", htmx), func(t *testing.T) {
			ts := newTestServer(t)
			c := ts.joined(t, "bob@example.com")
			s := openLive(t, c, ts.URL+"/events")
			key := composerKey(t, get(t, c, ts.URL+"/"))
			want := http.StatusSeeOther
			if htmx {
				want = http.StatusOK
			}
			for i := range 3 {
				resp := post(t, c, ts.URL+"/messages", url.Values{"message": {"once"}, "key": {key}}, htmx)
				if resp.StatusCode != want {
					t.Fatalf("try %d: status %d, want %d\n%s", i, resp.StatusCode, want, resp.body)
				}
				if htmx && composerKey(t, resp) == key {
					t.Errorf("try %d: the fresh composer reuses the sent key", i)
				}
			}
			// Another sender's key space is their own.
			ann := ts.joined(t, "ann@example.com")
			if resp := post(t, ann, ts.URL+"/messages", url.Values{"message": {"mine"}, "key": {key}}, htmx); resp.StatusCode != want {
				t.Fatalf("ann with the same key: %d", resp.StatusCode)
			}
			var got []string
			for range 2 {
				got = append(got, s.nextData(t))
			}
			if !strings.Contains(got[0], "bob@example.com</bdi></b>: <bdi>once") || !strings.Contains(got[1], "ann@example.com</bdi></b>: <bdi>mine") {
				t.Errorf("stream: %q", got)
			}
			s.none(t, 300*time.Millisecond)
			if ms := ts.messages(t); len(ms) != 2 {
				t.Errorf("stored %d messages, want 2: %+v", len(ms), ms)
			}
		})
	}
}

func TestPostWithoutKeyStillWorks(t *testing.T) {
	ts := newTestServer(t)
	c := ts.joined(t, "bob@example.com")
	for range 2 {
		if resp := post(t, c, ts.URL+"/messages", url.Values{"message": {"no key"}}, false); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("post without key: %d", resp.StatusCode)
		}
	}
	if ms := ts.messages(t); len(ms) != 2 {
		t.Errorf("stored %d, want 2 (no key, no idempotency)", len(ms))
	}
}

func TestMalformedKeyIsRefused(t *testing.T) {
	ts := newTestServer(t)
	c := ts.joined(t, "bob@example.com")
	for _, key := range []string{`"><script>`, strings.Repeat("k", 65), "ключ"} {
		resp := post(t, c, ts.URL+"/messages", url.Values{"message": {"kept"}, "key": {key}}, true)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(resp.body, "out of date") {
			t.Errorf("key %q: %d\n%s", key, resp.StatusCode, resp.body)
		}
		if got := resp.doc(t).Find("textarea").Text(); got != "kept" {
			t.Errorf("key %q: text %q not kept", key, got)
		}
		if fresh := composerKey(t, resp); fresh == key {
			t.Errorf("the malformed key was given back")
		}
	}
	if ms := ts.messages(t); len(ms) != 0 {
		t.Errorf("stored %+v", ms)
	}
}

// lostAnswerStore stores messages but, while lose is set, reports the
// outcome unknown, as when the connection to the database died during
// COMMIT after the server had committed.
type lostAnswerStore struct {
	handlers.MessageStore
	lose atomic.Bool
}

func (l *lostAnswerStore) AddMessageIn(ctx context.Context, roomID int64, a store.Author, content, key string) (store.Message, error) {
	m, err := l.MessageStore.AddMessageIn(ctx, roomID, a, content, key)
	if err == nil && l.lose.Load() {
		return store.Message{}, fmt.Errorf("store: add message: commit: %w: connection reset", store.ErrOutcomeUnknown)
	}
	return m, err
}

func TestUnknownOutcomeKeepsTextAndKey(t *testing.T) {
	for _, htmx := range []bool{true, false} {
		t.Run(fmt.Sprint("htmx=", htmx), func(t *testing.T) {
			var lost *lostAnswerStore
			ts := newTestServer(t, func(o *handlers.Options) {
				lost = &lostAnswerStore{MessageStore: o.Store}
				o.Store = lost
			})
			c := ts.joined(t, "bob@example.com")
			key := composerKey(t, get(t, c, ts.URL+"/"))

			lost.lose.Store(true)
			resp := post(t, c, ts.URL+"/messages", url.Values{"message": {"did it arrive?"}, "key": {key}}, htmx)
			if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(resp.body, "may not have been sent") {
				t.Fatalf("unknown outcome: %d\n%s", resp.StatusCode, resp.body)
			}
			if got := resp.doc(t).Find("form#composer textarea").Text(); got != "did it arrive?" {
				t.Errorf("text %q not kept", got)
			}
			if got := composerKey(t, resp); got != key {
				t.Errorf("key %q, want the same key %q for the retry", got, key)
			}

			lost.lose.Store(false)
			resp = post(t, c, ts.URL+"/messages", url.Values{"message": {"did it arrive?"}, "key": {key}}, htmx)
			if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("retry: %d", resp.StatusCode)
			}
			if ms := ts.messages(t); len(ms) != 1 {
				t.Errorf("stored %d messages after the retry, want 1", len(ms))
			}
		})
	}
}

// none fails if the stream carries another message within d.
func (s *liveStream) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case line := <-s.lines:
		t.Errorf("unexpected message %q", line)
	case <-time.After(d):
	}
}
