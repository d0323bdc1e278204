package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Session writes go through the writer's one connection, between group
// commits: SQLite has one writer at a time whatever we do.

// StartSession records a new open session, unverified: the open join, where
// the address is whatever was typed.
func (s *SQLite) StartSession(ctx context.Context, id, email string) error {
	return s.startSession(ctx, id, email, false)
}

// StartVerifiedSession records a new open session of someone who proved the
// address is theirs by following an emailed sign-in link.
func (s *SQLite) StartVerifiedSession(ctx context.Context, id, email string) error {
	return s.startSession(ctx, id, email, true)
}

func (s *SQLite) startSession(ctx context.Context, id, email string, verified bool) error {
	now := time.Now().UnixMicro()
	if _, err := s.writer.ExecContext(ctx, `INSERT INTO sessions (id, email, created_at, last_seen_at, verified) VALUES (?, ?, ?, ?, ?)`,
		id, email, now, now, verified); err != nil {
		return fmt.Errorf("store: start session: %w", err)
	}
	return nil
}

// Session returns the session with the given id, ended or not, or an error
// wrapping ErrNoSession. Every request reads its session, so the reads of
// concurrent requests share statements (see batch).
func (s *SQLite) Session(ctx context.Context, id string) (Session, error) {
	sess, ok, err := s.sessions.get(ctx, id)
	if err != nil {
		return Session{}, fmt.Errorf("store: session: %w", err)
	}
	if !ok {
		return Session{}, fmt.Errorf("store: session: %w", ErrNoSession)
	}
	return sess, nil
}

// sessionsIn reads the sessions of ids, through one of a few statements
// (see sqliteIn).
func (s *SQLite) sessionsIn(ctx context.Context, ids []string) (map[string]Session, error) {
	in, args := sqliteIn(ids)
	rows, err := s.reads.QueryContext(ctx, `SELECT id, email, created_at, last_seen_at, ended_at, verified FROM sessions WHERE id IN `+in, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	found := make(map[string]Session, len(ids))
	for rows.Next() {
		var sess Session
		var created, seen int64
		var ended sql.NullInt64
		if err := rows.Scan(&sess.ID, &sess.Email, &created, &seen, &ended, &sess.Verified); err != nil {
			return nil, err
		}
		sess.CreatedAt, sess.LastSeen = time.UnixMicro(created).UTC(), time.UnixMicro(seen).UTC()
		if ended.Valid {
			sess.EndedAt = time.UnixMicro(ended.Int64).UTC()
		}
		found[sess.ID] = sess
	}
	return found, rows.Err()
}

// TouchSession records that the session was just used. Touches that
// arrive together are written by one statement, in one commit.
func (s *SQLite) TouchSession(ctx context.Context, id string) error {
	if _, _, err := s.touches.get(ctx, id); err != nil {
		return fmt.Errorf("store: touch session: %w", err)
	}
	return nil
}

func (s *SQLite) touchSessions(ctx context.Context, ids []string) (map[string]struct{}, error) {
	in, args := sqliteIn(ids)
	_, err := s.writer.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id IN `+in, append([]any{time.Now().UnixMicro()}, args...)...)
	return nil, err
}

// EndSession ends one session; ending an ended one does nothing.
func (s *SQLite) EndSession(ctx context.Context, id string) error {
	if _, err := s.writer.ExecContext(ctx, `UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL`, time.Now().UnixMicro(), id); err != nil {
		return fmt.Errorf("store: end session: %w", err)
	}
	return nil
}

// EndSessionsOf ends every open session of email.
func (s *SQLite) EndSessionsOf(ctx context.Context, email string) error {
	if _, err := s.writer.ExecContext(ctx, `UPDATE sessions SET ended_at = ? WHERE email = ? AND ended_at IS NULL`, time.Now().UnixMicro(), email); err != nil {
		return fmt.Errorf("store: end sessions: %w", err)
	}
	return nil
}

// EndedSessions returns the ids of the sessions ended in the last within.
func (s *SQLite) EndedSessions(ctx context.Context, within time.Duration) ([]string, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT id FROM sessions WHERE ended_at > ?`, time.Now().Add(-within).UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("store: ended sessions: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: ended sessions: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: ended sessions: %w", err)
	}
	return ids, nil
}
