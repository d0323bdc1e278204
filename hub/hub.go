// Package hub fans chat events out to every open stream.
//
// The hub knows nothing of HTTP or SQL: a publisher hands it events that are
// already rendered and framed, and it copies the same bytes to every
// subscriber. It is modelled on the hub of gorilla/websocket's chat example:
// one goroutine fans events out, in order (spreading the work over others
// when there are many subscribers), and a subscriber that cannot keep up is
// dropped rather than allowed to slow everyone. The subscriber set is
// guarded by a mutex rather than owned by that goroutine, so subscribing and
// unsubscribing never wait behind a fan-out in progress, and tests and
// benchmarks can publish synchronously (PublishNow).
//
// Published events wait in a log. The fan-out visits the subscribers in
// rounds and sends each, with one write, everything logged since its last
// visit (up to maxJoin events), so an event usually waits at most one round
// for anyone, and the busier the hub, the more events each write carries.
//
// A subscriber that is waiting with nothing queued may let the fan-out write
// to its client directly (SetDirect, Idle): with thousands of streams, waking
// a goroutine per stream for every message costs more than the write itself.
package hub

import (
	"context"
	"errors"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// SubscriberBuffer is how many events may wait for one subscriber. A stream
// writes whatever has queued with one flush, so the buffer only has to absorb
// what arrives while a single write is in flight: a burst of 20 messages (the
// default per-session flood-control burst) from a few senders at once. A
// subscriber that falls further behind than this is dropped rather than
// slowing everyone down; its browser reconnects with Last-Event-ID and catches
// up from the store.
const SubscriberBuffer = 64

// maxLogged is how many published events may wait for the fan-out to send
// them to every subscriber. Publishing is asynchronous so that a post is
// answered without waiting for thousands of streams to be written; past this
// many waiting events, publishers wait, which slows posting down to what the
// fan-out can do.
const maxLogged = 1024

// shardSize is how many subscribers one fan-out goroutine serves in a
// round: past it, the round is spread over the available processors.
const shardSize = 1024

// longRound is how long a round may take and the next one still be spread.
// After a longer one, the hub is under sustained load, and the rounds that
// follow until it catches up run on one goroutine: each write then carries
// more events, which costs less per event than spreading the same writes
// over every processor, and the other processors stay free for requests
// (posts, page loads) and, on a shared machine, for everything else. On a
// 2-core machine with the load client beside the server, at 200,000
// deliveries/s, this took delivery p99 from 259-297 ms to 168-185 ms.
const longRound = 50 * time.Millisecond

// A fan-out goroutine looks at the clock every checkEvery subscribers and
// lets other goroutines run once yieldAfter has passed since it last did.
const (
	checkEvery = 128
	yieldAfter = time.Millisecond
)

// ErrClosed is returned by Subscribe once the hub is closed.
var ErrClosed = errors.New("hub: closed")

// Why the hub ended a subscription itself (see Subscriber.Ended).
const (
	EndedTooSlow    = "too slow"      // its buffer was full
	EndedClientLeft = "client left"   // a direct write found the client gone
	EndedShutdown   = "shutting down" // the hub was closed
)

// Event is one thing to send to every subscriber: a message or a notice, or
// several of them that were waiting together.
type Event struct {
	// ID is the message id, used by streams to skip what they already
	// replayed from the store; 0 for events that are not stored messages.
	// For events joined together, it is the highest id among them.
	ID int64
	// Frame is the complete text/event-stream frame, encoded once for all
	// subscribers. Subscribers must not modify it.
	Frame []byte
	// joined describes events joined together; nil for a single event.
	joined *joined
}

type joined struct {
	// parts says where each event's frame starts in Frame, with its id.
	parts []part
	// first is the lowest message id among them (0 if none): derivable from
	// parts, but After needs it for every subscriber, so it is found once.
	first int64
}

type part struct {
	start int
	id    int64
}

// After is the part of e's frame a client that already has every message up
// to id last must still be sent: all of it, usually; none of it for a message
// it already has. Notices (ID 0) are always sent.
func (e *Event) After(last int64) []byte {
	j := e.joined
	if j == nil {
		if e.ID == 0 || e.ID > last {
			return e.Frame
		}
		return nil
	}
	if j.first == 0 || j.first > last {
		return e.Frame
	}
	// A stream that has just replayed from the store: rare, so this may
	// allocate.
	var b []byte
	for i, p := range j.parts {
		end := len(e.Frame)
		if i+1 < len(j.parts) {
			end = j.parts[i+1].start
		}
		if p.id == 0 || p.id > last {
			b = append(b, e.Frame[p.start:end]...)
		}
	}
	return b
}

// maxJoin and maxJoinBytes bound how many waiting events the fan-out joins
// into one, and how large that may get.
const (
	maxJoin      = 64
	maxJoinBytes = 64 << 10
)

// join makes one event of events, in order.
func join(events []*Event) *Event {
	if len(events) == 1 {
		return events[0]
	}
	size := 0
	for _, e := range events {
		size += len(e.Frame)
	}
	info := &joined{parts: make([]part, len(events))}
	j := &Event{Frame: make([]byte, 0, size), joined: info}
	for i, e := range events {
		info.parts[i] = part{start: len(j.Frame), id: e.ID}
		j.Frame = append(j.Frame, e.Frame...)
		if e.ID != 0 {
			j.ID = max(j.ID, e.ID)
			if info.first == 0 {
				info.first = e.ID
			}
		}
	}
	return j
}

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
	// written; sweeps; and every Subscriber.next.
	fanOutMu sync.Mutex
	snapshot []*Subscriber
	sweeps   []sweep // each fan-out goroutine's account of a round, reused
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
// one with more than maxJoin events or maxJoinBytes waiting). Under load,
// rounds take longer and each write carries more events, so the cost per
// event falls as the load grows, instead of a queue growing without end.
func (h *Hub) fanOut() {
	defer close(h.done)
	for {
		select {
		case <-h.wake:
		case <-h.stop:
			return
		}
		// Rounds run until every subscriber has everything; after a long
		// one, the rest run on one goroutine (see longRound).
		spread := true
		for behind := true; behind; {
			select {
			case <-h.stop:
				return
			default:
			}
			h.fanOutMu.Lock()
			start := time.Now()
			_, _, behind = h.round(spread)
			spread = spread && time.Since(start) < longRound
			h.fanOutMu.Unlock()
		}
	}
}

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

// Publish logs e for every subscriber and returns, usually at once: while
// maxLogged events wait for the fan-out, it waits, which slows posting down
// to what the fan-out can do. Events reach subscribers in the order they
// were published.
func (h *Hub) Publish(e Event) {
	h.logMu.Lock()
	for len(h.log.Load().events) >= maxLogged && !h.stopped {
		h.roomLeft.Wait()
	}
	if !h.stopped {
		h.append(e)
	}
	h.logMu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default: // the fan-out has a token already
	}
}

// append must be called with h.logMu held. Appending may write past the
// end of an older view's events, which no reader of that view looks at.
func (h *Hub) append(e Event) {
	v := h.log.Load()
	h.log.Store(&logView{events: append(v.events, &e), base: v.base})
}

// trim forgets the events before number keep, which every subscriber has
// been sent.
func (h *Hub) trim(keep uint64) {
	h.logMu.Lock()
	defer h.logMu.Unlock()
	v := h.log.Load()
	n := int(keep - v.base)
	if n <= 0 {
		return
	}
	clear(v.events[:n]) // no round is reading them: let them go once sent
	events := v.events[n:]
	if len(events) == 0 {
		events = v.events[:0] // start over at the front of the array
	}
	h.log.Store(&logView{events: events, base: keep})
	h.roomLeft.Broadcast()
}

// PublishNow publishes e and runs one fan-out round before it returns: every
// subscriber is offered everything published so far that it has not been
// sent (up to maxJoin events or maxJoinBytes), queued, or written directly if
// it is idle. A subscriber whose buffer is full, or whose client is gone, is
// dropped: its channel is closed so its stream ends and its client
// reconnects. PublishNow reports how many subscribers were offered events
// and kept, and how many were dropped.
func (h *Hub) PublishNow(e Event) (delivered, dropped int) {
	h.fanOutMu.Lock()
	defer h.fanOutMu.Unlock()
	h.logMu.Lock()
	h.append(e)
	h.logMu.Unlock()
	delivered, dropped, _ = h.round(true)
	return delivered, dropped
}

// round visits every subscriber once, sending each what it has not been
// sent yet (with several goroutines if spread and there are many). It
// reports how many subscribers it offered events and kept, how many it
// dropped, and whether some may still be behind: an event was published
// during the round, or one had more than maxJoin events or maxJoinBytes
// waiting. It must be called with h.fanOutMu held.
func (h *Hub) round(spread bool) (delivered, dropped int, behind bool) {
	// The log's end is read before the snapshot: a subscriber that
	// subscribes after the snapshot starts at or after it.
	start := h.log.Load().end()
	h.mu.Lock()
	subs := append(h.snapshot[:0], h.subscribers...)
	h.mu.Unlock()

	shares := 1
	if spread {
		shares = max(1, min(runtime.GOMAXPROCS(0), (len(subs)+shardSize-1)/shardSize))
	}
	results := slices.Grow(h.sweeps[:0], shares)[:shares]
	if len(results) == 1 {
		results[0] = h.deliverAll(subs)
	} else {
		// Several goroutines, each with a contiguous share. Every one
		// finishes before the next round, so each subscriber still gets
		// events in publish order.
		var wg sync.WaitGroup
		for i := range shares {
			part := subs[i*len(subs)/shares : (i+1)*len(subs)/shares]
			wg.Go(func() { results[i] = h.deliverAll(part) })
		}
		wg.Wait()
	}
	clear(subs) // do not keep subscribers alive until the next round
	h.snapshot = subs[:0]

	lowest := start
	var failed []*Subscriber
	for _, r := range results {
		delivered += r.delivered
		failed = append(failed, r.failed...)
		lowest = min(lowest, r.lowest)
	}
	if len(failed) > 0 {
		h.mu.Lock()
		for _, s := range failed {
			h.remove(s, "") // deliver said why
		}
		h.mu.Unlock()
	}
	clear(results)
	h.sweeps = results[:0]
	// Every subscriber has now been sent everything before lowest.
	h.trim(lowest)
	return delivered, len(failed), h.log.Load().end() > lowest
}

// sweep is what one fan-out goroutine did in a round.
type sweep struct {
	delivered int           // subscribers offered events and kept
	failed    []*Subscriber // subscribers to drop
	lowest    uint64        // the lowest next event number among those visited
}

// deliverAll sends each of subs what it has not been sent yet.
func (h *Hub) deliverAll(subs []*Subscriber) (r sweep) {
	r.lowest = math.MaxUint64
	var joins joinCache
	var yielded time.Time
	if len(subs) >= checkEvery {
		yielded = time.Now()
	}
	for i, s := range subs {
		// The log as of now: events published since the round began
		// reach this subscriber in this round.
		v := h.log.Load()
		if s.next < v.end() {
			e, to := joins.get(v, s.next)
			if s.deliver(e) {
				r.delivered++
			} else {
				r.failed = append(r.failed, s)
			}
			s.next = to
		}
		r.lowest = min(r.lowest, s.next)
		// Direct writes are short system calls, back to back: without a
		// pause, a long fan-out would keep requests (new posts) off the
		// processors for a whole scheduler time slice at a time. Yielding
		// costs microseconds, so it is done by the clock, not by count.
		if i%checkEvery == checkEvery-1 {
			if now := time.Now(); now.Sub(yielded) >= yieldAfter {
				runtime.Gosched()
				yielded = time.Now()
			}
		}
	}
	return r
}

// joinCache remembers the last few events joined in a round. Subscribers
// visited one after another were mostly sent the same events before, so
// they are mostly sent the same events now: a run of the log is joined about
// once per round and goroutine (again after each publish during the round),
// not once per subscriber.
type joinCache struct {
	entries [4]joinEntry
	next    int // the entry to replace
}

type joinEntry struct {
	from, end, to uint64 // end: the log's end when joined; to: what the join reached
	e             *Event
}

// get returns the events of v from number from on, joined into one (at
// most maxJoin of them and maxJoinBytes, but at least one), and the number
// of the first event it left out.
func (c *joinCache) get(v *logView, from uint64) (*Event, uint64) {
	end := v.end()
	for _, j := range c.entries {
		if j.from == from && j.end == end { // an empty entry has from 0: events count from 1
			return j.e, j.to
		}
	}
	waiting := v.events[from-v.base:]
	n, size := 1, len(waiting[0].Frame)
	for n < len(waiting) && n < maxJoin && size+len(waiting[n].Frame) <= maxJoinBytes {
		size += len(waiting[n].Frame)
		n++
	}
	j := joinEntry{from: from, end: end, to: from + uint64(n), e: join(waiting[:n])}
	c.entries[c.next] = j
	c.next = (c.next + 1) % len(c.entries)
	return j.e, j.to
}

// Len is the number of subscribers.
func (h *Hub) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subscribers)
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
