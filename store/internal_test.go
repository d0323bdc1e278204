package store

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/store/storetest"
)

func TestFollowBackoff(t *testing.T) {
	tests := []struct {
		attempt  int
		min, max time.Duration
	}{
		{0, 50 * time.Millisecond, 100 * time.Millisecond},
		{1, 100 * time.Millisecond, 200 * time.Millisecond},
		{3, 400 * time.Millisecond, 800 * time.Millisecond},
		{6, followMaxBackoff / 2, followMaxBackoff},
		{1000, followMaxBackoff / 2, followMaxBackoff},
	}
	for _, tt := range tests {
		seen := map[time.Duration]bool{}
		for range 50 {
			d := followBackoff(tt.attempt)
			if d < tt.min || d > tt.max {
				t.Errorf("followBackoff(%d) = %v, want within [%v, %v]", tt.attempt, d, tt.min, tt.max)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("followBackoff(%d) gave the same wait 50 times: no jitter", tt.attempt)
		}
	}
}

// TestSQLiteConnectionSettings checks the settings durability depends on, on
// both pools: a pragma that silently failed to apply would look fine until
// the first power cut.
func TestSQLiteConnectionSettings(t *testing.T) {
	s, err := OpenSQLite(t.Context(), storetest.SQLitePath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	want := map[string]string{"journal_mode": "wal", "synchronous": "2", "busy_timeout": "5000"}
	for pool, db := range map[string]*sql.DB{"writer": s.writer, "reader": s.reader} {
		for pragma, value := range want {
			var got string
			if err := db.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatalf("%s: PRAGMA %s: %v", pool, pragma, err)
			}
			if got != value {
				t.Errorf("%s: %s = %q, want %q", pool, pragma, got, value)
			}
		}
	}
}

// TestFollowReadsWhenIdle stores a row without a notification, as a lost one
// would leave it: the idle read must still deliver it.
func TestFollowReadsWhenIdle(t *testing.T) {
	t.Parallel()
	p, err := OpenPostgres(t.Context(), storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.followIdle = 100 * time.Millisecond

	got := make(chan Message, 10)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go p.Follow(ctx, 0, func(m Message) { got <- m })
	// Once this arrives Follow has done its first read and is waiting.
	if _, err := p.AddMessage(t.Context(), "ann@example.com", "announced"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(2 * time.Second):
		t.Fatal("Follow delivered nothing")
	}

	if _, err := p.pool.Exec(t.Context(), `INSERT INTO messages (sender, content) VALUES ('ann@example.com', 'unannounced')`); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m.Content != "unannounced" {
			t.Errorf("delivered %q, want the unannounced message", m.Content)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a message stored without a notification was never delivered")
	}
}
