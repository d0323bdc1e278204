package hub

import (
	"math"
	"runtime"
	"slices"
	"sync"
	"time"
)

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
// (posts, page loads) and, on a shared machine, for everything else
// (docs/BENCHMARKS.md has the figures).
const longRound = 50 * time.Millisecond

// A fan-out goroutine looks at the clock every checkEvery subscribers and
// lets other goroutines run once yieldAfter has passed since it last did.
const (
	checkEvery = 128
	yieldAfter = time.Millisecond
)

// fanOut sends published events to every subscriber, in order, in rounds: a
// round visits each subscriber once and sends it, with one write, every
// event published since its last visit, up to the moment of the visit. An
// event published while a round is under way still reaches the subscribers
// that round has not visited yet, and the next round brings it to the
// others, so it waits at most one round for any subscriber (more only for
// one with more than maxCoalesce events or maxCoalesceBytes waiting). Under
// load, rounds take longer and each write carries more events, so the cost
// per event falls as the load grows, instead of a queue growing without end.
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

// round visits every subscriber once, sending each what it has not been
// sent yet (with several goroutines if spread and there are many). It
// reports how many subscribers it offered events and kept, how many it
// dropped, and whether some may still be behind: an event was published
// during the round, or one had more than maxCoalesce events or maxCoalesceBytes
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
	results := slices.Grow(h.shares[:0], shares)[:shares]
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
	h.shares = results[:0]
	// Every subscriber has now been sent everything before lowest.
	h.trim(lowest)
	return delivered, len(failed), h.log.Load().end() > lowest
}

// share is what one fan-out goroutine did in a round.
type share struct {
	delivered int           // subscribers offered events and kept
	failed    []*Subscriber // subscribers to drop
	lowest    uint64        // the lowest next event number among those visited
}

// deliverAll sends each of subs what it has not been sent yet.
func (h *Hub) deliverAll(subs []*Subscriber) (r share) {
	r.lowest = math.MaxUint64
	var coalesced coalesceCache
	var yielded time.Time
	if len(subs) >= checkEvery {
		yielded = time.Now()
	}
	for i, s := range subs {
		// The log as of now: events published since the round began
		// reach this subscriber in this round.
		v := h.log.Load()
		if s.next < v.end() {
			e, to := coalesced.get(v, s.next)
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

// coalesceCache remembers the last few events coalesced in a round. Subscribers
// visited one after another were mostly sent the same events before, so
// they are mostly sent the same events now: a run of the log is coalesced about
// once per round and goroutine (again after each publish during the round),
// not once per subscriber.
type coalesceCache struct {
	entries [4]coalesceEntry
	next    int // the entry to replace
}

type coalesceEntry struct {
	from, end, to uint64 // end: the log's end when coalesced; to: what that reached
	e             *Event
}

// get returns the events of v from number from on, coalesced into one (at
// most maxCoalesce of them and maxCoalesceBytes, but at least one), and the number
// of the first event it left out.
func (c *coalesceCache) get(v *logView, from uint64) (*Event, uint64) {
	end := v.end()
	for _, j := range c.entries {
		if j.from == from && j.end == end { // an empty entry has from 0: events count from 1
			return j.e, j.to
		}
	}
	waiting := v.events[from-v.base:]
	n, size := 1, len(waiting[0].Frame)
	for n < len(waiting) && n < maxCoalesce && size+len(waiting[n].Frame) <= maxCoalesceBytes {
		size += len(waiting[n].Frame)
		n++
	}
	j := coalesceEntry{from: from, end: end, to: from + uint64(n), e: coalesce(waiting[:n])}
	c.entries[c.next] = j
	c.next = (c.next + 1) % len(c.entries)
	return j.e, j.to
}
