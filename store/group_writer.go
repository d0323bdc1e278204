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

// groupWriter is a store's single writer. Posts arriving while a commit is
// in progress wait and are then committed together, in one transaction and
// one fsync, which is what lets one database take thousands of posts a
// second: the cost of a commit is shared by everyone waiting for it.
type groupWriter struct {
	// adds is unbuffered: a request is taken only by the writer, which
	// always answers it, so no request is left unanswered at close.
	adds    chan *addRequest
	closed  chan struct{}
	written chan struct{} // closed when the writer has stopped
	stop    sync.Once
	// commit stores a group, all of it or none of it, in order. A message
	// whose key the sender has used before is skipped, and comes back with
	// ID 0.
	commit func(group []*addRequest) ([]Message, error)
}

type addRequest struct {
	room    int64 // the room's id
	author  Author
	content string
	// key, when not "", is the sender's one-time key for this message: a
	// second message from the sender with the same key is not stored.
	key  string
	done chan addResult // buffered: the writer never waits on it
}

type addResult struct {
	m   Message
	err error
}

func (g *groupWriter) start(commit func([]*addRequest) ([]Message, error)) {
	g.adds = make(chan *addRequest)
	g.closed = make(chan struct{})
	g.written = make(chan struct{})
	g.commit = commit
	go g.write()
}

func (g *groupWriter) close() {
	g.stop.Do(func() { close(g.closed) })
	<-g.written
}

// add stores a message; when it returns nil the message is committed.
func (g *groupWriter) add(ctx context.Context, room int64, author Author, content, key string) (Message, error) {
	req := &addRequest{room: room, author: author, content: content, key: key, done: make(chan addResult, 1)}
	select {
	case g.adds <- req:
	case <-g.closed:
		return Message{}, fmt.Errorf("store: add message: %w", errClosed)
	case <-ctx.Done():
		return Message{}, fmt.Errorf("store: add message: %w", ctx.Err())
	}
	// Once taken, the message may be committed whatever ctx says: wait for
	// the answer, so success is never reported as failure.
	r := <-req.done
	return r.m, r.err
}

func (g *groupWriter) write() {
	defer close(g.written)
	group := make([]*addRequest, 0, maxGroup)
	for {
		select {
		case r := <-g.adds:
			group = append(group[:0], r)
		case <-g.closed:
			return
		}
	gather:
		for len(group) < maxGroup {
			select {
			case r := <-g.adds:
				group = append(group, r)
			default:
				break gather
			}
		}
		msgs, err := g.commit(group)
		for i, r := range group {
			switch {
			case err != nil:
				r.done <- addResult{err: err}
			case msgs[i].ID == 0: // its key was used already
				r.done <- addResult{err: fmt.Errorf("store: add message: %w", ErrAlreadyStored)}
			default:
				r.done <- addResult{m: msgs[i]}
			}
		}
		clear(group)
	}
}
