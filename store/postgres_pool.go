package store

// The pool rides out a database hiccup (a backend terminated, a restart, a
// failover): a connection the server has already hung up on is not handed
// out, and a statement that never reached the server runs again on another
// connection. A statement that may have reached it is never sent twice:
// its outcome is the caller's to learn (see ErrOutcomeUnknown).

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgRetryWaits are the waits before each retry of a statement that never
// reached the server: one at once on another connection, one a little
// later; then the error is the caller's.
var pgRetryWaits = [...]time.Duration{0, 50 * time.Millisecond}

// pgSuspectFor: after a connection is found dead, every connection is pinged
// before use for this long. Connections die together (a restart, terminated
// backends, a network cut), so one dead is a hint that more are. Otherwise a
// connection is pinged only after a second idle (pgxpool's default), so the
// steady state pays nothing.
const pgSuspectFor = 2 * time.Second

// pgPool is the store's pgxpool with the hiccup handling above. Exec,
// QueryRow and Begin retry what never reached the server; Query is
// pgxpool's own (its rows stream, so its errors can come after rows have
// been handed on), and reads that may be repeated go through read.
type pgPool struct {
	*pgxpool.Pool
	// suspectUntil is when pinging before use stops, in Unix nanoseconds;
	// 0 or past in steady state.
	suspectUntil atomic.Int64
}

// newPGPool opens a pool from cfg, which it changes.
func newPGPool(ctx context.Context, cfg *pgxpool.Config) (*pgPool, error) {
	pp := &pgPool{}
	cfg.PrepareConn = func(_ context.Context, c *pgx.Conn) (bool, error) {
		// A backend that was terminated while its connection sat idle has
		// already said so and hung up; the bytes are waiting in the socket.
		// Sending a statement there would fail with no way to tell whether
		// it ran, so the pool closes it and tries another.
		if closedByServer(c.PgConn().Conn()) {
			pp.suspect()
			return false, nil
		}
		return true, nil
	}
	cfg.ShouldPing = func(_ context.Context, sp pgxpool.ShouldPingParams) bool {
		return sp.IdleDuration > time.Second || pp.suspecting()
	}
	cfg.BeforeClose = func(c *pgx.Conn) {
		// Closed already: it died in use, not at the pool's hand.
		if c.IsClosed() {
			pp.suspect()
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	pp.Pool = pool
	return pp, nil
}

func (pp *pgPool) suspect() {
	pp.suspectUntil.Store(time.Now().Add(pgSuspectFor).UnixNano())
}

func (pp *pgPool) suspecting() bool {
	return time.Now().UnixNano() < pp.suspectUntil.Load()
}

// Exec is pgxpool's Exec, retried when the statement never reached the
// server.
func (pp *pgPool) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	var tag pgconn.CommandTag
	err := pp.run(ctx, false, func(c *pgxpool.Conn) (err error) {
		tag, err = c.Exec(ctx, sql, args...)
		return err
	})
	return tag, err
}

// QueryRow is pgxpool's QueryRow, retried when the statement never reached
// the server. The statement runs when the row is scanned.
func (pp *pgPool) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return retriedRow{pp: pp, ctx: ctx, sql: sql, args: args}
}

type retriedRow struct {
	pp   *pgPool
	ctx  context.Context
	sql  string
	args []any
}

func (r retriedRow) Scan(dest ...any) error {
	return r.pp.run(r.ctx, false, func(c *pgxpool.Conn) error {
		return c.QueryRow(r.ctx, r.sql, r.args...).Scan(dest...)
	})
}

// Begin is pgxpool's Begin, retried on any failure: a failed BEGIN leaves
// nothing behind, whether it reached the server or not.
func (pp *pgPool) Begin(ctx context.Context) (pgx.Tx, error) {
	for attempt := 0; ; attempt++ {
		tx, err := pp.Pool.Begin(ctx)
		if err == nil || attempt == len(pgRetryWaits) || ctx.Err() != nil {
			return tx, err
		}
		if err := sleep(ctx, pgRetryWaits[attempt]); err != nil {
			return nil, err
		}
	}
}

// read runs op, a read with nothing to lose by running twice, and runs it
// again on another connection when its connection was lost on the way.
func (pp *pgPool) read(ctx context.Context, op func(*pgxpool.Conn) error) error {
	return pp.run(ctx, true, op)
}

// noEffect marks an error after which the server is known to have kept
// nothing of the attempt, though pgconn cannot tell: a transaction whose
// connection was lost before COMMIT was sent.
type noEffect struct{ error }

func (e noEffect) Unwrap() error { return e.error }

// run runs op on a pooled connection. When the attempt failed before
// anything reached the server (no connection could be had, or pgconn says
// so), or op is a repeatable read and its connection was lost, it runs op
// again on another connection, up to len(pgRetryWaits) more times.
func (pp *pgPool) run(ctx context.Context, repeatable bool, op func(*pgxpool.Conn) error) error {
	for attempt := 0; ; attempt++ {
		c, err := pp.Acquire(ctx)
		again := true // no connection: nothing was sent
		if err == nil {
			err = op(c)
			lost := err != nil && c.Conn().IsClosed()
			c.Release()
			if err == nil {
				return nil
			}
			if lost {
				pp.suspect()
			}
			again = pgconn.SafeToRetry(err) || errors.As(err, new(noEffect)) || repeatable && lost
			if errors.Is(err, ErrOutcomeUnknown) {
				again = false // whatever else it says
			}
		}
		if !again || attempt == len(pgRetryWaits) || ctx.Err() != nil {
			return err
		}
		if err := sleep(ctx, pgRetryWaits[attempt]); err != nil {
			return err
		}
	}
}

// sleep waits d, or returns ctx's error if ctx ends first.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
