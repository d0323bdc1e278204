package store

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/chatzilla/chatzilla/store/storetest"
)

func TestFollowBackoff(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		attempt    int
		restarting bool
		min, max   time.Duration
	}{
		// Quick at first, so a one-off cut or a short restart costs little.
		{0, false, 25 * ms, 50 * ms},
		{1, false, 50 * ms, 100 * ms},
		{2, false, 100 * ms, 200 * ms},
		{3, false, 200 * ms, 400 * ms},
		{7, false, followMaxBackoff / 2, followMaxBackoff},
		{1000, false, followMaxBackoff / 2, followMaxBackoff},
		// While the server is restarting, never more than followRestartPoll.
		{0, true, 25 * ms, 50 * ms},
		{3, true, followRestartPoll / 2, followRestartPoll},
		{1000, true, followRestartPoll / 2, followRestartPoll},
	}
	for _, tt := range tests {
		seen := map[time.Duration]bool{}
		for range 50 {
			d := followBackoff(tt.attempt, tt.restarting)
			if d < tt.min || d > tt.max {
				t.Errorf("followBackoff(%d, %v) = %v, want within [%v, %v]", tt.attempt, tt.restarting, d, tt.min, tt.max)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("followBackoff(%d, %v) gave the same wait 50 times: no jitter", tt.attempt, tt.restarting)
		}
	}
}

func TestRestarting(t *testing.T) {
	// A port nothing listens on, refused as pgx reports it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	_, refused := pgx.Connect(t.Context(), "postgres://nobody@"+ln.Addr().String()+"/none?sslmode=disable&connect_timeout=5")

	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"refused by pgx", refused, true},
		{"refused", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, true},
		{"starting up", &pgconn.PgError{Severity: "FATAL", Code: "57P03", Message: "the database system is starting up"}, true},
		{"wrapped", fmt.Errorf("connect: %w", &pgconn.PgError{Severity: "FATAL", Code: "57P03"}), true},
		{"bad password", &pgconn.PgError{Severity: "FATAL", Code: "28P01"}, false},
		{"too many connections", &pgconn.PgError{Severity: "FATAL", Code: "53300"}, false},
		{"timeout", context.DeadlineExceeded, false},
	}
	for _, tt := range tests {
		if got := restarting(tt.err); got != tt.want {
			t.Errorf("%s: restarting(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
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
