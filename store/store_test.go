package store_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/store/storetest"
)

// backend is the method set both stores promise to share.
type backend interface {
	AddMessage(ctx context.Context, sender, content string) (store.Message, error)
	AddMessageOnce(ctx context.Context, sender, content, key string) (store.Message, error)
	MessagesAfter(ctx context.Context, afterID int64, limit int) ([]store.Message, error)
	RecentMessages(ctx context.Context, limit int) ([]store.Message, error)
	MessagesBefore(ctx context.Context, beforeID int64, limit int) ([]store.Message, error)
	Message(ctx context.Context, id int64) (store.Message, error)
	LastID(ctx context.Context) (int64, error)
	Ping(ctx context.Context) error
	Close() error
}

var (
	_ backend = (*store.SQLite)(nil)
	_ backend = (*store.Postgres)(nil)
)

// opener opens one more handle on the same database each time it is called;
// the first call creates the database. Handles are closed at test cleanup.
type opener func(ctx context.Context) (backend, error)

// eachBackend runs test as subtests "sqlite" and "postgres", each on a
// database of its own.
func eachBackend(t *testing.T, test func(t *testing.T, open opener)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		path := storetest.SQLitePath(t)
		test(t, func(ctx context.Context) (backend, error) {
			s, err := store.OpenSQLite(ctx, path)
			if err != nil {
				return nil, err
			}
			t.Cleanup(func() { s.Close() })
			return s, nil
		})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		url := storetest.PostgresURL(t)
		test(t, func(ctx context.Context) (backend, error) {
			p, err := store.OpenPostgres(ctx, url)
			if err != nil {
				return nil, err
			}
			t.Cleanup(func() { p.Close() })
			return p, nil
		})
	})
}

func mustOpen(t *testing.T, open opener) backend {
	t.Helper()
	b, err := open(t.Context())
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return b
}

// addN stores n messages and returns their ids in the order stored.
func addN(t *testing.T, b backend, n int) []int64 {
	t.Helper()
	ids := make([]int64, n)
	for i := range n {
		m, err := b.AddMessage(t.Context(), "ann@example.com", fmt.Sprintf("message %d", i))
		if err != nil {
			t.Fatalf("AddMessage: %v", err)
		}
		ids[i] = m.ID
	}
	return ids
}

func idsOf(msgs []store.Message) []int64 {
	ids := make([]int64, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	return ids
}

func TestBackends(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, open opener)
	}{
		{"add and read back", testAddAndReadBack},
		{"messages after pages forward", testMessagesAfter},
		{"recent messages are the latest, oldest first", testRecentMessages},
		{"messages before pages back", testMessagesBefore},
		{"missing message is ErrNotFound", testNotFound},
		{"last id", testLastID},
		{"limit below 1 is an error", testBadLimit},
		{"concurrent adds", testConcurrentAdds},
		{"reopen keeps messages", testReopen},
		{"concurrent open of a new database", testConcurrentOpen},
		{"ping", testPing},
		{"a key stores a message once per sender", testAddMessageOnce},
		{"concurrent adds with one key store one", testConcurrentAddsOnce},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			eachBackend(t, tt.run)
		})
	}
}

func testAddAndReadBack(t *testing.T, open opener) {
	b := mustOpen(t, open)
	ctx := t.Context()
	inputs := []struct{ sender, content string }{
		{"ann@example.com", "hello"},
		{"bob+chat@example.org", "héllo wörld, 世界 👋🏽"},
		{"ann@example.com", "line one\nline two\r\n\ttabbed"},
		{"eve@example.net", `<script>alert("x")</script> & 'quotes'`},
		{"ann@example.com", "100% _under_ \\ back; DROP TABLE messages; --"},
	}
	var prev store.Message
	for _, in := range inputs {
		before := time.Now()
		m, err := b.AddMessage(ctx, in.sender, in.content)
		after := time.Now()
		if err != nil {
			t.Fatalf("AddMessage(%q): %v", in.content, err)
		}
		if m.Sender != in.sender || m.Content != in.content {
			t.Errorf("AddMessage returned %q/%q, want %q/%q", m.Sender, m.Content, in.sender, in.content)
		}
		if m.ID <= prev.ID {
			t.Errorf("id %d after %d: ids must increase", m.ID, prev.ID)
		}
		if m.CreatedAt.Location() != time.UTC {
			t.Errorf("CreatedAt location %v, want UTC", m.CreatedAt.Location())
		}
		// The database clock may be another machine's; allow it some drift.
		if m.CreatedAt.Before(before.Add(-2*time.Second)) || m.CreatedAt.After(after.Add(2*time.Second)) {
			t.Errorf("CreatedAt %v not between %v and %v", m.CreatedAt, before, after)
		}
		if m.CreatedAt.Before(prev.CreatedAt) {
			t.Errorf("CreatedAt %v before the previous message's %v", m.CreatedAt, prev.CreatedAt)
		}

		got, err := b.Message(ctx, m.ID)
		if err != nil {
			t.Fatalf("Message(%d): %v", m.ID, err)
		}
		if got.ID != m.ID || got.Sender != in.sender || got.Content != in.content || !got.CreatedAt.Equal(m.CreatedAt) {
			t.Errorf("Message(%d) = %+v, want %+v", m.ID, got, m)
		}
		if got.CreatedAt.Location() != time.UTC {
			t.Errorf("read back CreatedAt location %v, want UTC", got.CreatedAt.Location())
		}
		prev = m
	}
}

func testConcurrentAdds(t *testing.T, open opener) {
	b := mustOpen(t, open)
	const posters, each = 20, 5
	var wg sync.WaitGroup
	errs := make(chan error, posters*each)
	for p := range posters {
		wg.Go(func() {
			for i := range each {
				if _, err := b.AddMessage(t.Context(), fmt.Sprintf("p%d@example.com", p), fmt.Sprintf("%d-%d", p, i)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("AddMessage: %v", err)
	}

	got, err := b.MessagesAfter(t.Context(), 0, 1000)
	if err != nil {
		t.Fatalf("MessagesAfter: %v", err)
	}
	if len(got) != posters*each {
		t.Fatalf("got %d messages, want %d", len(got), posters*each)
	}
	contents := map[string]bool{}
	for i, m := range got {
		if i > 0 && m.ID <= got[i-1].ID {
			t.Errorf("ids not strictly increasing: %d after %d", m.ID, got[i-1].ID)
		}
		contents[m.Content] = true
	}
	for p := range posters {
		for i := range each {
			if c := fmt.Sprintf("%d-%d", p, i); !contents[c] {
				t.Errorf("message %q missing", c)
			}
		}
	}
}

func testReopen(t *testing.T, open opener) {
	first := mustOpen(t, open)
	ids := addN(t, first, 3)
	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	second := mustOpen(t, open)
	got, err := second.RecentMessages(t.Context(), 10)
	if err != nil {
		t.Fatalf("RecentMessages after reopen: %v", err)
	}
	if !slices.Equal(idsOf(got), ids) {
		t.Errorf("after reopen ids = %v, want %v", idsOf(got), ids)
	}
	next := addN(t, second, 1)[0]
	if next <= ids[2] {
		t.Errorf("id after reopen %d, want above %d", next, ids[2])
	}
}

// testConcurrentOpen is several instances starting at once on a database
// nobody has set up: every one must come up, none may trip on the others'
// schema creation.
func testConcurrentOpen(t *testing.T, open opener) {
	const instances = 4
	var wg sync.WaitGroup
	opened := make([]backend, instances)
	errs := make([]error, instances)
	for i := range instances {
		wg.Go(func() { opened[i], errs[i] = open(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d: open: %v", i, err)
		}
	}
	for i, b := range opened {
		if _, err := b.AddMessage(t.Context(), "ann@example.com", fmt.Sprint(i)); err != nil {
			t.Errorf("instance %d: AddMessage: %v", i, err)
		}
	}
	if got, err := opened[0].LastID(t.Context()); err != nil || got != instances {
		t.Errorf("LastID = %d, %v; want %d", got, err, instances)
	}
}

func testPing(t *testing.T, open opener) {
	b := mustOpen(t, open)
	if err := b.Ping(t.Context()); err != nil {
		t.Fatalf("Ping on an open store: %v", err)
	}
	b.Close()
	if err := b.Ping(t.Context()); err == nil {
		t.Error("Ping on a closed store: no error")
	}
}
