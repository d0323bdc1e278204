package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Person returns what is known of email; for an address never named nor
// verified that is Person{Email: email}, not an error.
func (s *SQLite) Person(ctx context.Context, email string) (Person, error) {
	p := Person{Email: email}
	err := s.reads.QueryRowContext(ctx, `SELECT name, verified_at IS NOT NULL FROM people WHERE email = ?`, email).
		Scan(&p.Name, &p.Verified)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Person{}, fmt.Errorf("store: person: %w", err)
	}
	return p, nil
}

// SetDisplayName gives email the display name name, whose normalised form is
// nameKey; an empty name (and key) clears it. If another email holds a name
// with the same key it changes nothing and returns an error wrapping
// ErrNameTaken. The unique index decides, so of two people claiming one
// name at once exactly one gets it.
func (s *SQLite) SetDisplayName(ctx context.Context, email, name, nameKey string) error {
	if err := checkName(name, nameKey); err != nil {
		return err
	}
	_, err := s.writer.ExecContext(ctx, `INSERT INTO people (email, name, name_key, updated_at) VALUES (?1, ?2, ?3, ?4)
		ON CONFLICT (email) DO UPDATE SET name = ?2, name_key = ?3, updated_at = ?4`,
		email, name, nullable(nameKey), time.Now().UnixMicro())
	var sqliteErr *sqlite.Error
	if errors.As(err, &sqliteErr) && sqliteErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		// ON CONFLICT takes care of email, so only the name's key is left.
		return fmt.Errorf("store: set display name: %w", ErrNameTaken)
	}
	if err != nil {
		return fmt.Errorf("store: set display name: %w", err)
	}
	return nil
}

// MarkVerified records that email has signed in by an emailed link. The
// first time is kept.
func (s *SQLite) MarkVerified(ctx context.Context, email string) error {
	now := time.Now().UnixMicro()
	if _, err := s.writer.ExecContext(ctx, `INSERT INTO people (email, verified_at, updated_at) VALUES (?1, ?2, ?2)
		ON CONFLICT (email) DO UPDATE SET verified_at = ?2, updated_at = ?2 WHERE people.verified_at IS NULL`,
		email, now); err != nil {
		return fmt.Errorf("store: mark verified: %w", err)
	}
	return nil
}
