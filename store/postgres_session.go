package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// StartSession records a new open session, unverified: the open join, where
// the address is whatever was typed.
func (p *Postgres) StartSession(ctx context.Context, id, email string) error {
	return p.startSession(ctx, id, email, false)
}

// StartVerifiedSession records a new open session of someone who proved the
// address is theirs by following an emailed sign-in link.
func (p *Postgres) StartVerifiedSession(ctx context.Context, id, email string) error {
	return p.startSession(ctx, id, email, true)
}

func (p *Postgres) startSession(ctx context.Context, id, email string, verified bool) error {
	if _, err := p.pool.Exec(ctx, `INSERT INTO sessions (id, email, verified) VALUES ($1, $2, $3)`, id, email, verified); err != nil {
		return fmt.Errorf("store: start session: %w", err)
	}
	return nil
}

// Session returns the session with the given id, ended or not, or an error
// wrapping ErrNoSession. Every request reads its session, so the reads of
// concurrent requests share statements (see batch).
func (p *Postgres) Session(ctx context.Context, id string) (Session, error) {
	sess, ok, err := p.sessions.get(ctx, id)
	if err != nil {
		return Session{}, fmt.Errorf("store: session: %w", err)
	}
	if !ok {
		return Session{}, fmt.Errorf("store: session: %w", ErrNoSession)
	}
	return sess, nil
}

func (p *Postgres) sessionsIn(ctx context.Context, ids []string) (map[string]Session, error) {
	var found map[string]Session
	err := p.pool.read(ctx, func(c *pgxpool.Conn) error {
		found = make(map[string]Session, len(ids)) // afresh if run again
		rows, err := c.Query(ctx, `SELECT id, email, created_at, last_seen_at, ended_at, verified FROM sessions WHERE id = ANY($1)`, ids)
		if err != nil {
			return err
		}
		for rows.Next() {
			var sess Session
			var ended *time.Time
			if err := rows.Scan(&sess.ID, &sess.Email, &sess.CreatedAt, &sess.LastSeen, &ended, &sess.Verified); err != nil {
				rows.Close()
				return err
			}
			sess.CreatedAt, sess.LastSeen = sess.CreatedAt.UTC(), sess.LastSeen.UTC()
			if ended != nil {
				sess.EndedAt = ended.UTC()
			}
			found[sess.ID] = sess
		}
		return rows.Err()
	})
	return found, err
}

// TouchSession records that the session was just used. Touches that
// arrive together are written by one statement.
func (p *Postgres) TouchSession(ctx context.Context, id string) error {
	if _, _, err := p.touches.get(ctx, id); err != nil {
		return fmt.Errorf("store: touch session: %w", err)
	}
	return nil
}

func (p *Postgres) touchSessions(ctx context.Context, ids []string) (map[string]struct{}, error) {
	_, err := p.pool.Exec(ctx, `UPDATE sessions SET last_seen_at = now() WHERE id = ANY($1)`, ids)
	return nil, err
}

// EndSession ends one session; ending an ended one does nothing.
func (p *Postgres) EndSession(ctx context.Context, id string) error {
	if _, err := p.pool.Exec(ctx, `UPDATE sessions SET ended_at = clock_timestamp() WHERE id = $1 AND ended_at IS NULL`, id); err != nil {
		return fmt.Errorf("store: end session: %w", err)
	}
	return nil
}

// EndSessionsOf ends every open session of email.
func (p *Postgres) EndSessionsOf(ctx context.Context, email string) error {
	if _, err := p.pool.Exec(ctx, `UPDATE sessions SET ended_at = clock_timestamp() WHERE email = $1 AND ended_at IS NULL`, email); err != nil {
		return fmt.Errorf("store: end sessions: %w", err)
	}
	return nil
}

// EndedSessions returns the ids of the sessions ended in the last within, by
// the database's clock, which every instance shares.
func (p *Postgres) EndedSessions(ctx context.Context, within time.Duration) ([]string, error) {
	var ids []string
	err := p.pool.read(ctx, func(c *pgxpool.Conn) error {
		rows, err := c.Query(ctx, `SELECT id FROM sessions WHERE ended_at > clock_timestamp() - $1::interval`, within)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: ended sessions: %w", err)
	}
	return ids, nil
}
