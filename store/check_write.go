package store

import (
	"context"
	"fmt"
)

// CheckWrite proves the store can take a message right now, without
// storing one: it inserts a row in a transaction and rolls it back. The
// insert goes the way a real one does (the write lock, the table's
// constraints and triggers, the database's permissions), which a read, or
// a ping, never tests.
func (s *SQLite) CheckWrite(ctx context.Context) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: check write: %w", err)
	}
	defer tx.Rollback()
	// An explicit id, below any real one: the rollback then leaves
	// AUTOINCREMENT's counter as it was.
	if _, err := tx.ExecContext(ctx, `INSERT INTO messages (id, sender, content, created_at) VALUES (-1, '', '', 0)`); err != nil {
		return fmt.Errorf("store: check write: %w", err)
	}
	return nil
}

// CheckWrite is SQLite.CheckWrite for PostgreSQL. The id is given
// (OVERRIDING SYSTEM VALUE), so no id is taken from the sequence and
// none is skipped.
func (p *Postgres) CheckWrite(ctx context.Context) error {
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: check write: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `INSERT INTO messages (id, sender, content) OVERRIDING SYSTEM VALUE VALUES (-1, '', '')`); err != nil {
		return fmt.Errorf("store: check write: %w", err)
	}
	return nil
}
