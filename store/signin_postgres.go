package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// UseSignInToken is one UPDATE with the token's whole condition: PostgreSQL
// locks the row for the first update, and a concurrent one, on this instance
// or another, re-checks the condition once the first commits and finds the
// token used.

const selectPostgresToken = `SELECT ` + signInTokenColumns + ` FROM sign_in_tokens WHERE hash = $1`

// CreateSignInToken stores a new token. Its Hash must be SignInTokenHash of
// the token, never the token; a zero CreatedAt is now.
func (p *Postgres) CreateSignInToken(ctx context.Context, t SignInToken) error {
	t, err := checkSignInToken(t)
	if err != nil {
		return err
	}
	if _, err := p.pool.Exec(ctx, `INSERT INTO sign_in_tokens (hash, email, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		t.Hash, t.Email, t.CreatedAt, t.ExpiresAt); err != nil {
		return fmt.Errorf("store: create sign-in token: %w", err)
	}
	return nil
}

// SignInToken returns the token with the given hash, used or expired as it
// may be (so a page can say which), or an error wrapping ErrNoToken.
func (p *Postgres) SignInToken(ctx context.Context, hash string) (SignInToken, error) {
	t, err := scanPostgresToken(p.pool.QueryRow(ctx, selectPostgresToken, hash))
	if err != nil {
		return SignInToken{}, fmt.Errorf("store: sign-in token: %w", err)
	}
	return t, nil
}

// UseSignInToken marks the token used at now and returns it, if it is unused
// and unexpired at now. Otherwise it changes nothing and returns an error
// wrapping ErrTokenUsed (used already, expired or not), ErrTokenExpired or
// ErrNoToken. Of any number of concurrent calls for one token, on any number
// of instances, one at most succeeds.
func (p *Postgres) UseSignInToken(ctx context.Context, hash string, now time.Time) (SignInToken, error) {
	now = microUTC(now)
	t, err := scanPostgresToken(p.pool.QueryRow(ctx, `UPDATE sign_in_tokens SET used_at = $1
		WHERE hash = $2 AND used_at IS NULL AND expires_at > $1
		RETURNING `+signInTokenColumns, now, hash))
	if err == nil {
		return t, nil
	}
	if !errors.Is(err, ErrNoToken) {
		return SignInToken{}, fmt.Errorf("store: use sign-in token: %w", err)
	}
	t, err = scanPostgresToken(p.pool.QueryRow(ctx, selectPostgresToken, hash))
	if err == nil {
		err = whyUnusable(t, now)
	}
	return SignInToken{}, fmt.Errorf("store: use sign-in token: %w", err)
}

// SignInTokensSince counts the tokens made for email at or after since,
// used or not: the per-address mail rate limit, which so holds across
// instances and restarts.
func (p *Postgres) SignInTokensSince(ctx context.Context, email string, since time.Time) (int, error) {
	var n int
	if err := p.pool.QueryRow(ctx, `SELECT count(*) FROM sign_in_tokens WHERE email = $1 AND created_at >= $2`,
		email, since).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: sign-in tokens since: %w", err)
	}
	return n, nil
}

// DeleteSignInTokensBefore deletes the tokens that expired before before and
// says how many. Deleted tokens no longer count in SignInTokensSince, so
// before should lie further back than the rate limit's window.
func (p *Postgres) DeleteSignInTokensBefore(ctx context.Context, before time.Time) (int64, error) {
	tag, err := p.pool.Exec(ctx, `DELETE FROM sign_in_tokens WHERE expires_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("store: delete sign-in tokens: %w", err)
	}
	return tag.RowsAffected(), nil
}

// scanPostgresToken reads one row of signInTokenColumns; no row is ErrNoToken.
func scanPostgresToken(row pgx.Row) (SignInToken, error) {
	var t SignInToken
	var used *time.Time
	err := row.Scan(&t.Hash, &t.Email, &t.CreatedAt, &t.ExpiresAt, &used)
	if errors.Is(err, pgx.ErrNoRows) {
		return SignInToken{}, ErrNoToken
	}
	if err != nil {
		return SignInToken{}, err
	}
	t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC()
	if used != nil {
		t.UsedAt = used.UTC()
	}
	return t, nil
}
