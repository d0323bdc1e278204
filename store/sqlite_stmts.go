package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
)

// readStmts runs the reads of an SQLite store through statements parsed
// once, on the read pool: SQLite spends much of a small read parsing it
// (RoomsOf took 124 µs parsed each time, 42 µs prepared), and every
// request reads its session, every post its author, every stream that
// opens its reader's rooms. A statement is prepared on first use and kept
// until Close; the statements are the package's own, so they are few.
type readStmts struct {
	db     *sql.DB
	mu     sync.RWMutex
	stmts  map[string]*sql.Stmt
	closed bool
}

func (r *readStmts) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	r.mu.RLock()
	st, closed := r.stmts[query], r.closed
	r.mu.RUnlock()
	if st != nil {
		return st, nil
	}
	if closed {
		return nil, errors.New("store: closed")
	}
	// Prepared outside the lock: a prepare may wait for a connection, and
	// the reads with statements already made must not wait behind it.
	st, err := r.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if had := r.stmts[query]; had != nil || r.closed {
		st.Close()
		if had == nil {
			return nil, errors.New("store: closed")
		}
		return had, nil
	}
	if r.stmts == nil {
		r.stmts = make(map[string]*sql.Stmt)
	}
	r.stmts[query] = st
	return st, nil
}

// QueryContext is sql.DB's, through the query's statement.
func (r *readStmts) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := r.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext is sql.DB's, through the query's statement. If it cannot
// be prepared, the query runs unprepared, which reports why in its Row.
func (r *readStmts) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := r.stmt(ctx, query)
	if err != nil {
		return r.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

func (r *readStmts) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for _, st := range r.stmts {
		errs = append(errs, st.Close())
	}
	r.stmts, r.closed = nil, true
	return errors.Join(errs...)
}

// sqliteIn is an SQLite IN list for values (at least one) and its
// arguments. The list is padded, with the first value, which changes no
// result, to a power of two, so that a read through readStmts parses one
// statement for each size rather than one for each count.
func sqliteIn(values []string) (list string, args []any) {
	n := 1
	for n < len(values) {
		n *= 2
	}
	args = make([]any, n)
	for i := range args {
		args[i] = values[0]
		if i < len(values) {
			args[i] = values[i]
		}
	}
	return "(" + strings.TrimSuffix(strings.Repeat("?,", n), ",") + ")", args
}
