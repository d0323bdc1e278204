// Package hub fans chat events out to every open stream.
//
// The hub knows nothing of HTTP or SQL: a publisher hands it events that are
// already rendered and framed, and it copies the same bytes to every
// subscriber. It is modelled on the hub of gorilla/websocket's chat example:
// one goroutine fans events out, in order, and a subscriber that cannot keep
// up is dropped rather than allowed to slow everyone. The subscriber set is
// guarded by a mutex rather than owned by that goroutine, so subscribing and
// unsubscribing never wait behind a fan-out in progress for long, and tests
// and benchmarks can publish synchronously (PublishNow).
package hub

import (
	"context"
	"errors"
	"sync"
)

// SubscriberBuffer is how many events may wait for one subscriber. A stream
// writes whatever has queued with one flush, so the buffer only has to absorb
// what arrives while a single write is in flight: a burst of 20 messages (the
// default per-session flood-control burst) from a few senders at once. A
// subscriber that falls further behind than this is dropped rather than
// slowing everyone down; its browser reconnects with Last-Event-ID and catches
// up from the store.
const SubscriberBuffer = 64

// queueSize is how many published events may wait for the fan-out
// goroutine. Publishing is asynchronous so that a post is answered without
// waiting for thousands of streams to be woken; past this many waiting
// events, publishers wait, which slows posting down to what fan-out can do.
const queueSize = 1024

// ErrClosed is returned by Subscribe once the hub is closed.
var ErrClosed = errors.New("hub: closed")

// Event is one thing to send to every subscriber: a message or a notice.
type Event struct {
	// ID is the message id, used by streams to skip what they already
	// replayed from the store; 0 for events that are not stored messages.
	ID int64
	// Frame is the complete text/event-stream frame, encoded once for all
	// subscribers. Subscribers must not modify it.
	Frame []byte
}

// Subscriber is one open stream's place in the hub.
type Subscriber struct {
	// events is closed by the hub, while holding its mutex and exactly once:
	// when the subscriber unsubscribes, when it is dropped for falling
	// behind, or when the hub closes. A closed channel tells the stream to end.
	events chan Event
	// detached is set, under the hub's mutex, by the first Unsubscribe: the
	// stream is done with the hub, which Wait waits for.
	detached bool
}

// Events delivers the subscriber's events in publish order. It is closed when
// the subscriber is unsubscribed, dropped or the hub is closed.
func (s *Subscriber) Events() <-chan Event { return s.events }

// Hub is the set of subscribers. The zero value is not usable; call New.
type Hub struct {
	mu          sync.Mutex
	subscribers map[*Subscriber]struct{}
	closed      bool
	attached    int           // subscribers that have not unsubscribed yet
	allDetached chan struct{} // closed when attached reaches 0 after Close

	// queue feeds the fan-out goroutine, in publish order. It is never
	// closed: Close signals stop instead, so a late Publish cannot panic.
	queue chan Event
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// New returns an open hub with no subscribers, and starts its fan-out
// goroutine, which runs until Close.
func New() *Hub {
	h := &Hub{
		subscribers: make(map[*Subscriber]struct{}),
		allDetached: make(chan struct{}),
		queue:       make(chan Event, queueSize),
		stop:        make(chan struct{}),
		done:        make(chan struct{}),
	}
	go h.fanOut()
	return h
}

func (h *Hub) fanOut() {
	defer close(h.done)
	for {
		select {
		case e := <-h.queue:
			h.PublishNow(e)
		case <-h.stop:
			return
		}
	}
}

// Subscribe adds a subscriber. It fails with ErrClosed once the hub is closed.
func (h *Hub) Subscribe() (*Subscriber, error) {
	s := &Subscriber{events: make(chan Event, SubscriberBuffer)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	h.subscribers[s] = struct{}{}
	h.attached++
	return s, nil
}

// Unsubscribe removes s and closes its channel. It is safe to call more than
// once and after the hub dropped s or closed.
func (h *Hub) Unsubscribe(s *Subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.remove(s)
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

// remove must be called with h.mu held.
func (h *Hub) remove(s *Subscriber) {
	if _, ok := h.subscribers[s]; ok {
		delete(h.subscribers, s)
		close(s.events)
	}
}

// Publish queues e for every subscriber and returns, usually at once.
// Events reach subscribers in the order they were published.
func (h *Hub) Publish(e Event) {
	select {
	case h.queue <- e:
	case <-h.stop:
	}
}

// PublishNow offers e to every subscriber before it returns, without
// blocking on any of them. A subscriber whose buffer is full is dropped: its
// channel is closed so its stream ends and its client reconnects. PublishNow
// reports how many subscribers got the event and how many were dropped.
// Events published with Publish that are still queued may arrive after it.
func (h *Hub) PublishNow(e Event) (delivered, dropped int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subscribers {
		select {
		case s.events <- e:
			delivered++
		default:
			h.remove(s)
			dropped++
		}
	}
	return delivered, dropped
}

// Len is the number of subscribers.
func (h *Hub) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subscribers)
}

// Close ends every subscription, once, and refuses new ones. Streams see
// their channel closed and end, so their clients reconnect elsewhere (and
// catch up from the store: events still queued are not sent).
func (h *Hub) Close() {
	h.once.Do(func() {
		close(h.stop)
		<-h.done
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for s := range h.subscribers {
		h.remove(s)
	}
	if h.attached == 0 {
		close(h.allDetached)
	}
}
