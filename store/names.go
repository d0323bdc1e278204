package store

import (
	"context"
	"fmt"
)

// maxNamesAsked bounds one DisplayNames call: the "who's online" panel lists
// at most 50 people, and a query's parameters are not unbounded.
const maxNamesAsked = 500

// DisplayNames returns the display names of those of emails who have one,
// by address: what "who's online" shows.
func (s *SQLite) DisplayNames(ctx context.Context, emails []string) (map[string]string, error) {
	if len(emails) == 0 {
		return map[string]string{}, nil
	}
	if len(emails) > maxNamesAsked {
		return nil, fmt.Errorf("store: display names: %d addresses, at most %d", len(emails), maxNamesAsked)
	}
	in, args := sqliteIn(emails)
	rows, err := s.reads.QueryContext(ctx, `SELECT email, name FROM people WHERE name != '' AND email IN `+in, args...)
	if err != nil {
		return nil, fmt.Errorf("store: display names: %w", err)
	}
	defer rows.Close()
	return scanNames(rows)
}

// DisplayNames returns the display names of those of emails who have one,
// by address: what "who's online" shows.
func (p *Postgres) DisplayNames(ctx context.Context, emails []string) (map[string]string, error) {
	if len(emails) > maxNamesAsked {
		return nil, fmt.Errorf("store: display names: %d addresses, at most %d", len(emails), maxNamesAsked)
	}
	rows, err := p.pool.Query(ctx, `SELECT email, name FROM people WHERE name != '' AND email = ANY($1)`, emails)
	if err != nil {
		return nil, fmt.Errorf("store: display names: %w", err)
	}
	defer rows.Close()
	return scanNames(rows)
}

// scanNames reads (email, name) rows, from either engine.
func scanNames(rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}) (map[string]string, error) {
	names := make(map[string]string)
	for rows.Next() {
		var email, name string
		if err := rows.Scan(&email, &name); err != nil {
			return nil, fmt.Errorf("store: display names: %w", err)
		}
		names[email] = name
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: display names: %w", err)
	}
	return names, nil
}
