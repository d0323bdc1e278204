package hub

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// ErrClosed is returned by Subscribe once the hub is closed.
var ErrClosed = errors.New("hub: closed")

// Hub is the set of subscribers. The zero value is not usable; call New.
type Hub struct {
	mu          sync.Mutex
	subscribers []*Subscriber // Subscriber.index is each one's place
	closed      bool
	attached    int           // subscribers that have not unsubscribed yet
	allDetached chan struct{} // closed when attached reaches 0 after Close

	// log holds the events published and not yet sent to every subscriber.
	// Each change stores a new logView, so the fan-out reads it without a
	// lock; logMu orders the changes.
	log      atomic.Pointer[logView]
	logMu    sync.Mutex
	stopped  bool       // set by Close: Publish no longer waits or logs; guarded by logMu
	roomLeft *sync.Cond // publishers wait on it while the log is full

	wake chan struct{} // a token after a Publish, for the fan-out
	stop chan struct{}
	done chan struct{}
	once sync.Once

	// fanOutMu keeps fan-out rounds (the fan-out goroutine's and
	// PublishNow's) from running at once. It guards snapshot, the round's
	// copy of subscribers, reused, so that mu is not held while events are
	// written; shares; and every Subscriber.next.
	fanOutMu sync.Mutex
	snapshot []*Subscriber
	shares   []share // each fan-out goroutine's account of a round, reused
}

// logView is the log at one moment: event number n (counted from 1 since
// New) is events[n-base]. It is never modified once stored, and neither
// are the events it points to, which subscribers' buffers may still hold
// after they leave the log.
type logView struct {
	events []*Event
	base   uint64
}

func (v *logView) end() uint64 { return v.base + uint64(len(v.events)) }

// New returns an open hub with no subscribers, and starts its fan-out
// goroutine, which runs until Close.
func New() *Hub {
	h := &Hub{
		allDetached: make(chan struct{}),
		wake:        make(chan struct{}, 1),
		stop:        make(chan struct{}),
		done:        make(chan struct{}),
	}
	h.roomLeft = sync.NewCond(&h.logMu)
	h.log.Store(&logView{base: 1})
	go h.fanOut()
	return h
}

// fanOut sends published events to every subscriber, in order, in rounds: a
// round visits each subscriber once and sends it, with one write, every
// event published since its last visit, up to the moment of the visit. An
// event published while a round is under way still reaches the subscribers
// that round has not visited yet, and the next round brings it to the
// others, so it waits at most one round for any subscriber (more only for
// one with more than maxCoalesce events or maxCoalesceBytes waiting). Under load,
// rounds take longer and each write carries more events, so the cost per
// event falls as the load grows, instead of a queue growing without end.

// Subscribe adds a subscriber, which is sent the events published from now
// on. It fails with ErrClosed once the hub is closed.
func (h *Hub) Subscribe() (*Subscriber, error) {
	s := &Subscriber{events: make(chan *Event, SubscriberBuffer)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	s.next = h.log.Load().end()
	s.index = len(h.subscribers)
	h.subscribers = append(h.subscribers, s)
	h.attached++
	return s, nil
}

// Subscribers is how many subscribers the hub has.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subscribers)
}

// Unsubscribe removes s and closes its channel. It is safe to call more than
// once and after the hub dropped s or closed.
func (h *Hub) Unsubscribe(s *Subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.remove(s, "")
	if !s.detached {
		s.detached = true
		h.attached--
		if h.closed && h.attached == 0 {
			close(h.allDetached)
		}
	}
}

// Wait blocks, after Close, until every subscriber has unsubscribed (every
// stream has finished ending), or ctx ends.
func (h *Hub) Wait(ctx context.Context) error {
	select {
	case <-h.allDetached:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// remove must be called with h.mu held; ended is as for Subscriber.close.
func (h *Hub) remove(s *Subscriber, ended string) {
	i := s.index
	if i < 0 || i >= len(h.subscribers) || h.subscribers[i] != s {
		return // already removed
	}
	last := len(h.subscribers) - 1
	h.subscribers[i] = h.subscribers[last]
	h.subscribers[i].index = i
	h.subscribers[last] = nil
	h.subscribers = h.subscribers[:last]
	s.index = -1
	s.close(ended)
}

// Close ends every subscription, once, and refuses new ones. Streams see
// their channel closed and end, so their clients reconnect elsewhere (and
// catch up from the store: events not yet sent are not sent).
func (h *Hub) Close() {
	h.once.Do(func() {
		h.logMu.Lock()
		h.stopped = true
		h.roomLeft.Broadcast()
		h.logMu.Unlock()
		close(h.stop)
		<-h.done
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for len(h.subscribers) > 0 {
		h.remove(h.subscribers[len(h.subscribers)-1], EndedShutdown)
	}
	if h.attached == 0 {
		close(h.allDetached)
	}
}

// Send offers e to s alone, outside the log and the rounds: a notice for one
// stream (its sidebar's unread counts), never a stored message, whose place
// in the order of events only the log keeps. Like a published event, it is
// written directly if s is idle, else queued; a subscriber that cannot take
// it is dropped. It never blocks on the fan-out.
func (h *Hub) Send(s *Subscriber, e *Event) {
	if e.ID != 0 {
		panic("hub: Send is for notices; messages are published")
	}
	if s.deliver(e) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.remove(s, "")
}
