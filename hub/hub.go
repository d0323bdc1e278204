// Package hub fans chat events out to every open stream.
//
// The hub knows nothing of HTTP or SQL: a publisher hands it events that are
// already rendered and framed, and it copies the same bytes to every
// subscriber. It is modelled on the hub of gorilla/websocket's chat example,
// with one difference: the subscriber set is owned by a mutex rather than a
// goroutine, so Publish is a plain call that returns once every subscriber has
// been offered the event, and no publisher ever waits on a channel.
package hub

import (
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
}

// Events delivers the subscriber's events in publish order. It is closed when
// the subscriber is unsubscribed, dropped or the hub is closed.
func (s *Subscriber) Events() <-chan Event { return s.events }

// Hub is the set of subscribers. The zero value is not usable; call New.
type Hub struct {
	mu          sync.Mutex
	subscribers map[*Subscriber]struct{}
	closed      bool
}

// New returns an open hub with no subscribers.
func New() *Hub {
	return &Hub{subscribers: make(map[*Subscriber]struct{})}
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
	return s, nil
}

// Unsubscribe removes s and closes its channel. It is safe to call more than
// once and after the hub dropped s or closed.
func (h *Hub) Unsubscribe(s *Subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.remove(s)
}

// remove must be called with h.mu held.
func (h *Hub) remove(s *Subscriber) {
	if _, ok := h.subscribers[s]; ok {
		delete(h.subscribers, s)
		close(s.events)
	}
}

// Publish offers e to every subscriber without blocking. A subscriber whose
// buffer is full is dropped: its channel is closed so its stream ends and its
// client reconnects. Publish reports how many subscribers got the event and
// how many were dropped.
func (h *Hub) Publish(e Event) (delivered, dropped int) {
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
// their channel closed and end, so their clients reconnect elsewhere.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for s := range h.subscribers {
		h.remove(s)
	}
}
