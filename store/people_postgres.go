package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// uniqueViolation is PostgreSQL's SQLSTATE for a unique index refusing a row.
const uniqueViolation = "23505"

// Person returns what is known of email; for an address never named nor
// verified that is Person{Email: email}, not an error.
func (p *Postgres) Person(ctx context.Context, email string) (Person, error) {
	person := Person{Email: email}
	err := p.pool.QueryRow(ctx, `SELECT name, verified_at IS NOT NULL FROM people WHERE email = $1`, email).
		Scan(&person.Name, &person.Verified)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return Person{}, fmt.Errorf("store: person: %w", err)
	}
	return person, nil
}

// SetDisplayName gives email the display name name, whose normalised form is
// nameKey; an empty name (and key) clears it. If another email holds a name
// with the same key it changes nothing and returns an error wrapping
// ErrNameTaken. The unique index decides, so of two people claiming one
// name at once, on any instances, exactly one gets it.
func (p *Postgres) SetDisplayName(ctx context.Context, email, name, nameKey string) error {
	if err := checkName(name, nameKey); err != nil {
		return err
	}
	_, err := p.pool.Exec(ctx, `INSERT INTO people (email, name, name_key, updated_at) VALUES ($1, $2, $3, clock_timestamp())
		ON CONFLICT (email) DO UPDATE SET name = excluded.name, name_key = excluded.name_key, updated_at = excluded.updated_at`,
		email, name, nullable(nameKey))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation {
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
func (p *Postgres) MarkVerified(ctx context.Context, email string) error {
	if _, err := p.pool.Exec(ctx, `INSERT INTO people (email, verified_at, updated_at) VALUES ($1, clock_timestamp(), clock_timestamp())
		ON CONFLICT (email) DO UPDATE SET verified_at = excluded.verified_at, updated_at = excluded.updated_at
		WHERE people.verified_at IS NULL`, email); err != nil {
		return fmt.Errorf("store: mark verified: %w", err)
	}
	return nil
}
