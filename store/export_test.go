package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// What only tests need: reading one message by id, telling followers'
// connections apart, and making a database as an earlier build left it.

// ErrNotFound is returned (possibly wrapped; test with errors.Is) when a
// message id does not exist.
var ErrNotFound = errors.New("store: message not found")

// Message returns the message with the given id, or an error wrapping
// ErrNotFound.
func (p *Postgres) Message(ctx context.Context, id int64) (Message, error) {
	msgs, err := queryMessages(ctx, p.pool, "message",
		`SELECT `+postgresColumns+` FROM messages WHERE id = $1`, id)
	if err != nil {
		return Message{}, err
	}
	if len(msgs) == 0 {
		return Message{}, fmt.Errorf("%w: id %d", ErrNotFound, id)
	}
	return msgs[0], nil
}

// Message returns the message with the given id, or an error wrapping
// ErrNotFound.
func (s *SQLite) Message(ctx context.Context, id int64) (Message, error) {
	msgs, err := s.query(ctx, "message", `SELECT `+sqliteColumns+` FROM messages WHERE id = ?`, id)
	if err != nil {
		return Message{}, err
	}
	if len(msgs) == 0 {
		return Message{}, fmt.Errorf("%w: id %d", ErrNotFound, id)
	}
	return msgs[0], nil
}

// FollowerName is the application_name that Follow's connections carry, unique
// to this *Postgres, so they can be told apart in pg_stat_activity.
func (p *Postgres) FollowerName() string { return p.followerName }

// MakeSQLiteAt creates the database at path as a build with only the first
// steps migrations left it, then runs stmts in it.
func MakeSQLiteAt(ctx context.Context, path string, steps int, stmts ...string) error {
	db, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		return err
	}
	defer db.Close()
	if err := migrateSQLite(ctx, db, sqliteMigrations[:steps]); err != nil {
		return err
	}
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// MakePostgresAt is MakeSQLiteAt for the PostgreSQL database at url.
func MakePostgresAt(ctx context.Context, url string, steps int, stmts ...string) error {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := migratePostgres(ctx, pool, postgresMigrations[:steps]); err != nil {
		return err
	}
	for _, q := range stmts {
		if _, err := pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}
