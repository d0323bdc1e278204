package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/store"
)

// keyField finds the composer's one-time key in a page or fragment.
var keyField = regexp.MustCompile(`name="key" value="([^"]+)"`)

// retrier sends messages as a browser that never gives up does: through
// htmx, each with the key of the composer it was typed in, and every
// failure (an error answer, or none at all) is retried with the same key
// until it is acknowledged.
type retrier struct {
	p      *person
	base   func() string // where the server is now; it may move when restarted
	prefix string

	retries, unknown atomic.Int64 // failures retried; of them, "may not have been sent"
}

func (r *retrier) run(t *testing.T, n int, deadline time.Time) {
	key := ""
	for i := 0; i < n; {
		if time.Now().After(deadline) {
			t.Errorf("%s: message %d not acknowledged in time", r.prefix, i)
			return
		}
		if key == "" {
			key = r.freshKey()
			if key == "" {
				time.Sleep(20 * time.Millisecond)
				continue
			}
		}
		status, body, err := r.post(fmt.Sprintf("%s-%d", r.prefix, i), key)
		switch {
		case err == nil && status == http.StatusOK:
			key = "" // the fresh composer's key is for the next message
			if m := keyField.FindStringSubmatch(body); m != nil {
				key = m[1]
			}
			i++
			continue
		case err == nil && status == http.StatusServiceUnavailable && strings.Contains(body, "may not have been sent"):
			r.unknown.Add(1)
		}
		if m := keyField.FindStringSubmatch(body); err == nil && m != nil && m[1] != key {
			t.Errorf("%s-%d: a failed send (%d) came back with another key", r.prefix, i, status)
			return
		}
		r.retries.Add(1)
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *retrier) post(text, key string) (status int, body string, err error) {
	req, _ := http.NewRequest(http.MethodPost, r.base()+"/messages",
		strings.NewReader(url.Values{"message": {text}, "key": {key}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("HX-Request", "true")
	resp, err := r.p.c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// freshKey is the key of the composer on the chat page, "" if the page
// cannot be had right now.
func (r *retrier) freshKey() string {
	resp, err := r.p.c.Get(r.base() + "/")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := keyField.FindStringSubmatch(string(b)); resp.StatusCode == http.StatusOK && m != nil {
		return m[1]
	}
	return ""
}

// checkExactlyOnce fails unless every retrier's n messages are stored, each
// once.
func checkExactlyOnce(t *testing.T, msgs []store.Message, retriers []*retrier, n int) {
	t.Helper()
	count := map[string]int{}
	for _, m := range msgs {
		count[m.Content]++
	}
	for _, r := range retriers {
		for i := range n {
			if text := fmt.Sprintf("%s-%d", r.prefix, i); count[text] != 1 {
				t.Errorf("%q is stored %d times, want exactly once", text, count[text])
			}
		}
	}
	if len(msgs) != len(retriers)*n {
		t.Errorf("%d messages stored, want %d", len(msgs), len(retriers)*n)
	}
}

// TestRetriedSendsStoredOnceOnPostgres posts through a proxy that cuts the
// database connection right after forwarding COMMIT, before its answer comes
// back, and meanwhile terminates the instance's backends: the server does not
// know whether those messages were stored, says so, and the retries with the
// same key must leave every message stored exactly once.
func TestRetriedSendsStoredOnceOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("posts for seconds through a faulty connection")
	}
	direct, appName := postgresForTest(t, "cz-retry")
	proxy := newCommitCutter(t, direct)
	inst := startChatzilla(t, map[string]string{"DATABASE_URL": proxy.url, "RATE_LIMITS": "off"})
	proxy.cutEvery.Store(3)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var terminated atomic.Int64
	go terminateBackends(ctx, t, direct, appName, &terminated)

	const posters, each = 4, 25
	var retriers []*retrier
	var wg sync.WaitGroup
	deadline := time.Now().Add(90 * time.Second)
	for i := range posters {
		r := &retrier{p: join(t, inst.URL, fmt.Sprintf("p%d@example.com", i)), base: func() string { return inst.URL }, prefix: fmt.Sprint("p", i)}
		retriers = append(retriers, r)
		wg.Go(func() { r.run(t, each, deadline) })
	}
	wg.Wait()
	cancel()
	proxy.cutEvery.Store(0)

	st, err := store.OpenPostgres(context.Background(), direct)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	msgs, err := st.MessagesAfter(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, msgs, retriers, each)
	var retries, unknown int64
	for _, r := range retriers {
		retries += r.retries.Load()
		unknown += r.unknown.Load()
	}
	if proxy.cuts.Load() == 0 || unknown == 0 {
		t.Fatalf("%d commits cut, %d answers said \"may not have been sent\": the test proves nothing", proxy.cuts.Load(), unknown)
	}
	t.Logf("%d messages stored once each; %d commits cut after COMMIT, %d backends terminated, %d retries, %d \"may not have been sent\"",
		len(msgs), proxy.cuts.Load(), terminated.Load(), retries, unknown)
}

// TestRetriedSendsStoredOnceAcrossKill9 kills the server with SIGKILL while
// people post, starts it again on the same SQLite file, and lets every
// unanswered post be retried with its key: each message is stored once.
func TestRetriedSendsStoredOnceAcrossKill9(t *testing.T) {
	db := t.TempDir() + "/chat.db"
	env := map[string]string{"DATABASE_URL": "sqlite:" + db, "RATE_LIMITS": "off"}
	p := startProcess(t, env)
	var base atomic.Value
	base.Store(p.URL)

	const posters, each = 4, 150
	var retriers []*retrier
	var wg sync.WaitGroup
	deadline := time.Now().Add(90 * time.Second)
	for i := range posters {
		r := &retrier{p: join(t, p.URL, fmt.Sprintf("p%d@example.com", i)), base: func() string { return base.Load().(string) }, prefix: fmt.Sprint("p", i)}
		retriers = append(retriers, r)
		wg.Go(func() { r.run(t, each, deadline) })
	}
	kills := 0
	for range 2 {
		time.Sleep(300 * time.Millisecond)
		if err := p.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-p.exited
		kills++
		p = startProcess(t, env)
		base.Store(p.URL)
	}
	wg.Wait()

	st, err := store.OpenSQLite(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	msgs, err := st.MessagesAfter(context.Background(), 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, msgs, retriers, each)
	var retries int64
	for _, r := range retriers {
		retries += r.retries.Load()
	}
	if retries == 0 {
		t.Fatal("no post failed across the kills: the test proves nothing")
	}
	t.Logf("%d messages stored once each across %d kill -9s, %d retries", len(msgs), kills, retries)
}
