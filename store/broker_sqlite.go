package store

import (
	"context"
	"errors"
)

// SQLite is its own broker (see stream.Broker): only this process writes an
// SQLite store, so the writer's goroutine hands each committed message to
// the one follower directly.

// Follow calls deliver, in id order and exactly once each, for every message
// with id > afterID: first those already stored, then each one as it is
// committed, until ctx ends (it returns ctx.Err()) or the store is closed
// (nil). Only this process writes an SQLite store, so following needs no
// polling and no second connection. deliver runs on the writer's goroutine:
// it must hand the message on, not do slow work. One follower at a time.
func (s *SQLite) Follow(ctx context.Context, afterID int64, deliver func(Message)) error {
	s.follow.mu.Lock()
	if s.follow.deliver != nil {
		s.follow.mu.Unlock()
		return errors.New("store: follow: already followed")
	}
	// Catch up while the writer cannot commit: nothing falls in between.
	for {
		page, err := s.logAfter(ctx, afterID, followPage)
		if err != nil {
			s.follow.mu.Unlock()
			return err
		}
		for _, m := range page {
			deliver(m)
			afterID = m.ID
		}
		if len(page) < followPage {
			break
		}
	}
	s.follow.deliver = deliver
	s.follow.mu.Unlock()

	defer func() {
		s.follow.mu.Lock()
		s.follow.deliver = nil
		s.follow.mu.Unlock()
	}()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.writes.closed:
		return nil
	}
}

// logAfter returns up to limit messages of every room with id > afterID,
// oldest first: what a follower catches up on.
func (s *SQLite) logAfter(ctx context.Context, afterID int64, limit int) ([]Message, error) {
	return s.query(ctx, "log after",
		`SELECT `+sqliteColumns+` FROM messages WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit)
}
