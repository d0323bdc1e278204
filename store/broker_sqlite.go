package store

import (
	"context"
	"errors"
	"time"
)

// SQLite is its own broker (see stream.Broker): the writer's goroutine hands
// each message this process commits to the one follower directly. Another
// process may write the same file for a while, the old one during a
// restart, so the follower also looks for messages it did not write: as
// soon as a gap shows before this process's own (see handOn), and every
// followPoll otherwise.

// followPoll is how often a follower of an SQLite store looks for messages
// stored by another process.
const followPoll = 200 * time.Millisecond

// Follow calls deliver, in id order and exactly once each, for every message
// with id > afterID: first those already stored, then each one as this
// process commits it (another process's within followPoll), until ctx ends
// (it returns ctx.Err()) or the store is closed (nil). deliver runs on the
// writer's goroutine, or the follower's: it must hand the message on, not
// do slow work. One follower at a time.
func (s *SQLite) Follow(ctx context.Context, afterID int64, deliver func(Message)) error {
	s.follow.mu.Lock()
	if s.follow.deliver != nil {
		s.follow.mu.Unlock()
		return errors.New("store: follow: already followed")
	}
	// Catch up while the writer cannot commit: nothing falls in between.
	s.follow.deliver, s.follow.last = deliver, afterID
	if err := s.catchUp(ctx); err != nil {
		s.follow.deliver = nil
		s.follow.mu.Unlock()
		return err
	}
	s.follow.mu.Unlock()

	defer func() {
		s.follow.mu.Lock()
		s.follow.deliver = nil
		s.follow.mu.Unlock()
	}()
	tick := time.NewTicker(followPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.writes.closed:
			return nil
		case <-tick.C:
			s.look(ctx)
		}
	}
}

// look delivers what another process stored after the last message
// delivered. Whether there is anything is read without follow.mu, so that
// the writer, which holds it through each commit, never waits on the read
// pool for a look that finds nothing, which is nearly every look. A failed
// look is made again at the next tick.
func (s *SQLite) look(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, followPoll*5)
	defer cancel()
	s.follow.mu.Lock()
	last := s.follow.last
	s.follow.mu.Unlock()
	if next, err := s.logAfter(ctx, last, 1); err != nil || len(next) == 0 {
		return
	}
	s.follow.mu.Lock()
	defer s.follow.mu.Unlock()
	_ = s.catchUp(ctx)
}

// logAfter returns up to limit messages of every room with id > afterID,
// oldest first: what a follower catches up on.
func (s *SQLite) logAfter(ctx context.Context, afterID int64, limit int) ([]Message, error) {
	return s.query(ctx, "log after",
		`SELECT `+sqliteColumns+` FROM messages WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit)
}
