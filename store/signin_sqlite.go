package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Writes go through the writer's one connection, between group commits.
// UseSignInToken is one UPDATE with the token's whole condition: SQLite runs
// one writer at a time (and BEGIN IMMEDIATE takes the file's write lock, so
// other processes too), so of two uses of a token exactly one finds it unused.

const (
	signInTokenColumns = "hash, email, created_at, expires_at, used_at"
	selectSQLiteToken  = `SELECT ` + signInTokenColumns + ` FROM sign_in_tokens WHERE hash = ?`
)

// CreateSignInToken stores a new token. Its Hash must be SignInTokenHash of
// the token, never the token; a zero CreatedAt is now.
func (s *SQLite) CreateSignInToken(ctx context.Context, t SignInToken) error {
	t, err := checkSignInToken(t)
	if err != nil {
		return err
	}
	if _, err := s.writer.ExecContext(ctx, `INSERT INTO sign_in_tokens (hash, email, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		t.Hash, t.Email, t.CreatedAt.UnixMicro(), t.ExpiresAt.UnixMicro()); err != nil {
		return fmt.Errorf("store: create sign-in token: %w", err)
	}
	return nil
}

// SignInToken returns the token with the given hash, used or expired as it
// may be (so a page can say which), or an error wrapping ErrNoToken.
func (s *SQLite) SignInToken(ctx context.Context, hash string) (SignInToken, error) {
	t, err := scanSQLiteToken(s.reads.QueryRowContext(ctx, selectSQLiteToken, hash))
	if err != nil {
		return SignInToken{}, fmt.Errorf("store: sign-in token: %w", err)
	}
	return t, nil
}

// UseSignInToken marks the token used at now and returns it, if it is unused
// and unexpired at now. Otherwise it changes nothing and returns an error
// wrapping ErrTokenUsed (used already, expired or not), ErrTokenExpired or
// ErrNoToken. Of any number of concurrent calls for one token, on any number
// of handles, one at most succeeds.
func (s *SQLite) UseSignInToken(ctx context.Context, hash string, now time.Time) (SignInToken, error) {
	now = microUTC(now)
	t, err := scanSQLiteToken(s.writer.QueryRowContext(ctx, `UPDATE sign_in_tokens SET used_at = ?1
		WHERE hash = ?2 AND used_at IS NULL AND expires_at > ?1
		RETURNING `+signInTokenColumns, now.UnixMicro(), hash))
	if err == nil {
		return t, nil
	}
	if !errors.Is(err, ErrNoToken) {
		return SignInToken{}, fmt.Errorf("store: use sign-in token: %w", err)
	}
	t, err = scanSQLiteToken(s.reads.QueryRowContext(ctx, selectSQLiteToken, hash))
	if err == nil {
		err = whyUnusable(t, now)
	}
	return SignInToken{}, fmt.Errorf("store: use sign-in token: %w", err)
}

// SignInTokensSince counts the tokens made for email at or after since,
// used or not: the per-address mail rate limit, which so holds across
// restarts (and, on PostgreSQL, across instances).
func (s *SQLite) SignInTokensSince(ctx context.Context, email string, since time.Time) (int, error) {
	var n int
	if err := s.reads.QueryRowContext(ctx, `SELECT count(*) FROM sign_in_tokens WHERE email = ? AND created_at >= ?`,
		email, since.UnixMicro()).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: sign-in tokens since: %w", err)
	}
	return n, nil
}

// DeleteSignInTokensBefore deletes the tokens that expired before before and
// says how many. Deleted tokens no longer count in SignInTokensSince, so
// before should lie further back than the rate limit's window.
func (s *SQLite) DeleteSignInTokensBefore(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.writer.ExecContext(ctx, `DELETE FROM sign_in_tokens WHERE expires_at < ?`, before.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("store: delete sign-in tokens: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: delete sign-in tokens: %w", err)
	}
	return n, nil
}

// scanSQLiteToken reads one row of signInTokenColumns; no row is ErrNoToken.
func scanSQLiteToken(row *sql.Row) (SignInToken, error) {
	var t SignInToken
	var created, expires int64
	var used sql.NullInt64
	err := row.Scan(&t.Hash, &t.Email, &created, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return SignInToken{}, ErrNoToken
	}
	if err != nil {
		return SignInToken{}, err
	}
	t.CreatedAt, t.ExpiresAt = time.UnixMicro(created).UTC(), time.UnixMicro(expires).UTC()
	if used.Valid {
		t.UsedAt = time.UnixMicro(used.Int64).UTC()
	}
	return t, nil
}
