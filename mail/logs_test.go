package mail_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// logs is a slog.Handler that keeps every record, so a test can read what the
// package logged, attributes and all, while workers are still logging.
type logs struct {
	mu      sync.Mutex
	records []string // "LEVEL message key=value ..."
	added   chan struct{}
}

func newLogs() (*logs, *slog.Logger) {
	l := &logs{added: make(chan struct{}, 1)}
	return l, slog.New(l)
}

func (l *logs) Enabled(context.Context, slog.Level) bool { return true }
func (l *logs) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logs) WithGroup(string) slog.Handler            { return l }

func (l *logs) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	l.records = append(l.records, b.String())
	l.mu.Unlock()
	select {
	case l.added <- struct{}{}:
	default:
	}
	return nil
}

// all returns every record so far.
func (l *logs) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.records...)
}

// count is the number of records that start with prefix ("INFO mail sent").
func (l *logs) count(prefix string) int {
	n := 0
	for _, r := range l.all() {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

// waitFor waits until n records start with prefix, failing the test after
// timeout.
func (l *logs) waitFor(t *testing.T, prefix string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for l.count(prefix) < n {
		select {
		case <-l.added:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("want %d log records starting %q within %v, got:\n%s", n, prefix, timeout, strings.Join(l.all(), "\n"))
		}
	}
}

// mustNotContain fails the test if any record holds one of secrets.
func (l *logs) mustNotContain(t *testing.T, secrets ...string) {
	t.Helper()
	for _, r := range l.all() {
		for _, s := range secrets {
			if strings.Contains(r, s) {
				t.Errorf("log record %q holds %q", r, s)
			}
		}
	}
}
