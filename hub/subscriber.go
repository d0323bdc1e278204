package hub

import "sync"

// SubscriberBuffer is how many events may wait for one subscriber. A stream
// writes whatever has queued with one flush, so the buffer only has to absorb
// what arrives while a single write is in flight: a burst of 20 messages (the
// default per-session flood-control burst) from a few senders at once. A
// subscriber that falls further behind than this is dropped rather than
// slowing everyone down; its browser reconnects with Last-Event-ID and catches
// up from the store.
const SubscriberBuffer = 64

// Why the hub ended a subscription itself (see Subscriber.Ended).
const (
	EndedTooSlow    = "too slow"      // its buffer was full
	EndedClientLeft = "client left"   // a direct write found the client gone
	EndedShutdown   = "shutting down" // the hub was closed
)

// DirectWriter writes a frame to a subscriber's client without blocking:
// it writes what the connection accepts at once (possibly nothing) and says
// how much that was. An error means the client is gone.
type DirectWriter func(frame []byte) (n int, err error)

// Subscriber is one open stream's place in the hub.
type Subscriber struct {
	// mu guards the fields below and every send on events, so that an event
	// is either written directly or queued, never both, and never sent on a
	// closed channel.
	mu sync.Mutex
	// events is closed by the hub, under mu and exactly once: when the
	// subscriber unsubscribes, when it is dropped for falling behind, or
	// when the hub closes. A closed channel tells the stream to end.
	// It holds pointers, shared by every subscriber: 8 bytes a slot
	// rather than an Event's 40, in a buffer every open stream has.
	events chan *Event
	closed bool
	// ended says why the hub closed events, "" when the subscriber
	// unsubscribed itself.
	ended string
	// direct, when set, may be used while idle: the subscriber's goroutine
	// is waiting, has written everything it received, and has nothing
	// queued, so a direct write cannot overtake anything.
	direct DirectWriter
	idle   bool
	// last is the highest message id the client has been sent: a direct
	// write skips events at or below it (messages the stream replayed from
	// the store before the hub got to them).
	last int64

	// next is the number of the first logged event it has not been sent;
	// set by Subscribe, then guarded by the hub's fanOutMu.
	next uint64

	// Guarded by the hub's mutex.
	index    int  // place in Hub.subscribers
	detached bool // set by the first Unsubscribe: the stream is done with the hub, which Wait waits for
}

// Events delivers the subscriber's events in publish order. It is closed when
// the subscriber is unsubscribed, dropped or the hub is closed. The events
// are shared with other subscribers and must not be modified.
func (s *Subscriber) Events() <-chan *Event { return s.events }

// Ended says why the hub ended the subscription (EndedTooSlow,
// EndedClientLeft, EndedShutdown), or "" if it has not, or the subscriber
// unsubscribed itself.
func (s *Subscriber) Ended() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

// SetDirect lets the fan-out write to the client itself while the subscriber
// is idle (see Idle).
func (s *Subscriber) SetDirect(w DirectWriter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.direct = w
}

// Idle is called by a subscriber that has written everything it received,
// up to message id last, and is about to wait on Events. If nothing is
// queued and a DirectWriter is set, the fan-out writes the next events
// itself, and sends on Events only the unwritten rest of a frame the
// connection did not take at once (with ID 0), and what follows it.
func (s *Subscriber) Idle(last int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = max(s.last, last)
	s.idle = s.direct != nil && !s.closed && len(s.events) == 0
}

// deliver hands e to s: written directly when s is idle, else queued. It
// reports false when s must be dropped (its buffer is full or its client is
// gone), and true otherwise, including when s is already closed.
func (s *Subscriber) deliver(e *Event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return true
	}
	if s.idle {
		frame := e.After(s.last)
		if len(frame) == 0 {
			return true
		}
		n, err := s.direct(frame)
		if err != nil {
			s.ended = EndedClientLeft
			return false
		}
		s.last = max(s.last, e.ID)
		if n == len(frame) {
			return true
		}
		// The connection is full: the subscriber's goroutine writes the
		// rest, with a deadline, and everything after it.
		s.idle = false
		e = &Event{Frame: frame[n:]}
	}
	select {
	case s.events <- e:
		return true
	default:
		s.ended = EndedTooSlow
		return false
	}
}

// close must be called with the hub's mutex held. ended is why, if the hub
// ends the subscription and deliver has not said why already.
func (s *Subscriber) close(ended string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed, s.idle = true, false
	if s.ended == "" {
		s.ended = ended
	}
	close(s.events)
}
