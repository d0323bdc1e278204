package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

const (
	// maxGroup bounds one group commit: enough to share one fsync among a
	// burst of posts, few enough that the first of them does not wait long.
	maxGroup = 256
	// groupTimeout bounds one group commit, which no single request's
	// context can bound since it serves many.
	groupTimeout = 30 * time.Second
)

var errClosed = errors.New("store: closed")

// groupCommitter is the SQLite store's single writer. Posts arriving while a
// commit is in progress wait and are then committed together, in one
// transaction and one fsync, which is what lets a file on one disk take
// thousands of posts a second. It also hands every committed message, in id
// order, to the follower (Follow), in process.
type groupCommitter struct {
	// adds is unbuffered: a request is taken only by the writer, which
	// always answers it, so no request is left unanswered at Close.
	adds    chan *addRequest
	closed  chan struct{}
	written chan struct{} // closed when the writer has stopped
	stop    sync.Once

	// followMu is held by the writer from before a commit until its
	// messages are delivered, and by Follow while it catches up, so a
	// follower sees each message exactly once.
	followMu sync.Mutex
	deliver  func(Message)
}

type addRequest struct {
	sender, content string
	done            chan addResult // buffered: the writer never waits on it
}

type addResult struct {
	m   Message
	err error
}

func (s *SQLite) startWriting() {
	s.adds = make(chan *addRequest)
	s.closed = make(chan struct{})
	s.written = make(chan struct{})
	go s.write()
}

func (s *SQLite) stopWriting() {
	s.stop.Do(func() { close(s.closed) })
	<-s.written
}

// AddMessage stores a message; when it returns nil the message is on disk
// (and has been handed to the follower, if there is one).
func (s *SQLite) AddMessage(ctx context.Context, sender, content string) (Message, error) {
	req := &addRequest{sender: sender, content: content, done: make(chan addResult, 1)}
	select {
	case s.adds <- req:
	case <-s.closed:
		return Message{}, fmt.Errorf("store: add message: %w", errClosed)
	case <-ctx.Done():
		return Message{}, fmt.Errorf("store: add message: %w", ctx.Err())
	}
	// Once taken, the message may be committed whatever ctx says: wait for
	// the answer, so success is never reported as failure.
	r := <-req.done
	return r.m, r.err
}

func (s *SQLite) write() {
	defer close(s.written)
	group := make([]*addRequest, 0, maxGroup)
	for {
		select {
		case r := <-s.adds:
			group = append(group[:0], r)
		case <-s.closed:
			return
		}
	gather:
		for len(group) < maxGroup {
			select {
			case r := <-s.adds:
				group = append(group, r)
			default:
				break gather
			}
		}

		s.followMu.Lock()
		msgs, err := s.commit(group)
		if err == nil && s.deliver != nil {
			for _, m := range msgs {
				s.deliver(m)
			}
		}
		s.followMu.Unlock()
		for i, r := range group {
			if err != nil {
				r.done <- addResult{err: err}
			} else {
				r.done <- addResult{m: msgs[i]}
			}
		}
		clear(group)
	}
}

// commit stores a group in one transaction: all of it or, on any error,
// none of it.
func (s *SQLite) commit(group []*addRequest) ([]Message, error) {
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: add message: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO messages (sender, content, created_at) VALUES (?, ?, ?) RETURNING id`)
	if err != nil {
		return nil, fmt.Errorf("store: add message: %w", err)
	}
	defer stmt.Close()

	// Read the clock while holding the write lock, so created_at never goes
	// backwards as ids go forwards. Microseconds is what the column keeps.
	now := time.Now().UTC().Truncate(time.Microsecond)
	msgs := make([]Message, len(group))
	for i, r := range group {
		msgs[i] = Message{Sender: r.sender, Content: r.content, CreatedAt: now}
		if err := stmt.QueryRowContext(ctx, r.sender, r.content, now.UnixMicro()).Scan(&msgs[i].ID); err != nil {
			return nil, fmt.Errorf("store: add message: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store: add message: commit: %w", err)
	}
	return msgs, nil
}

// Follow calls deliver, in id order and exactly once each, for every message
// with id > afterID: first those already stored, then each one as it is
// committed, until ctx ends (it returns ctx.Err()) or the store is closed
// (nil). Only this process writes an SQLite store, so following needs no
// polling and no second connection. deliver runs on the writer's goroutine:
// it must hand the message on, not do slow work. One follower at a time.
func (s *SQLite) Follow(ctx context.Context, afterID int64, deliver func(Message)) error {
	s.followMu.Lock()
	if s.deliver != nil {
		s.followMu.Unlock()
		return errors.New("store: follow: already followed")
	}
	// Catch up while the writer cannot commit: nothing falls in between.
	for {
		page, err := s.MessagesAfter(ctx, afterID, followPage)
		if err != nil {
			s.followMu.Unlock()
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
	s.deliver = deliver
	s.followMu.Unlock()

	defer func() {
		s.followMu.Lock()
		s.deliver = nil
		s.followMu.Unlock()
	}()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
		return nil
	}
}
