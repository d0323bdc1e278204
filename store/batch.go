package store

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// batchTimeout bounds one batch's trip to the database. The callers wait on
// their own contexts as well; the batch's is not any one of theirs, since
// one caller giving up must not fail the others.
const batchTimeout = 10 * time.Second

// sessionBatch is the most sessions one statement reads or touches.
const sessionBatch = 256

// A batch runs one kind of keyed read (or write) for many callers at once:
// while a trip to the database is under way, the callers that arrive queue,
// and the next trip takes all of them (up to max) in one statement. A lone
// caller goes at once, so an idle store adds no wait; a crowd (every page
// reconnecting after a restart, each reading its session) costs a few
// statements instead of one each. This is the group commit's idea applied
// to reads: SQLite spends most of a small read in system calls (locks, page
// reads) that one statement for many keys pays once.
type batch[K comparable, V any] struct {
	// run does one trip for keys (distinct, at most max); a key it has no
	// value for is left out of the map.
	run func(ctx context.Context, keys []K) (map[K]V, error)
	max int // keys per trip
	// trips is how many may be under way at once.
	trips int

	mu      sync.Mutex
	queue   []*batchCall[K, V]
	running int // trips under way (goroutines taking from queue)
}

type batchCall[K comparable, V any] struct {
	key  K
	done chan struct{}
	val  V
	ok   bool
	err  error
	// gone: the caller stopped waiting, so a trip not yet made leaves the
	// call out (after a stall, those behind must not wait for them).
	gone atomic.Bool
}

func newBatch[K comparable, V any](max, trips int, run func(ctx context.Context, keys []K) (map[K]V, error)) *batch[K, V] {
	return &batch[K, V]{run: run, max: max, trips: trips}
}

// get returns key's value, ok false if there is none. ctx bounds the wait
// alone: the trip that key rides on goes on for the others.
func (b *batch[K, V]) get(ctx context.Context, key K) (V, bool, error) {
	c := &batchCall[K, V]{key: key, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	if b.running < b.trips {
		b.running++
		go b.loop()
	}
	b.mu.Unlock()
	select {
	case <-c.done:
		return c.val, c.ok, c.err
	case <-ctx.Done():
		c.gone.Store(true)
		var zero V
		return zero, false, ctx.Err()
	}
}

// loop makes trips while callers wait, then ends.
func (b *batch[K, V]) loop() {
	for {
		b.mu.Lock()
		n := min(len(b.queue), b.max)
		if n == 0 {
			b.running--
			b.mu.Unlock()
			return
		}
		calls := b.queue[:n:n]
		b.queue = b.queue[n:]
		if len(b.queue) == 0 {
			b.queue = nil // let the backing array go
		}
		b.mu.Unlock()
		calls = slices.DeleteFunc(calls, func(c *batchCall[K, V]) bool { return c.gone.Load() })
		if len(calls) > 0 {
			b.trip(calls)
		}
	}
}

func (b *batch[K, V]) trip(calls []*batchCall[K, V]) {
	keys := make([]K, 0, len(calls))
	seen := make(map[K]struct{}, len(calls))
	for _, c := range calls {
		if _, dup := seen[c.key]; !dup {
			seen[c.key] = struct{}{}
			keys = append(keys, c.key)
		}
	}
	vals, err := b.runSafely(keys)
	for _, c := range calls {
		if err != nil {
			c.err = err
		} else {
			c.val, c.ok = vals[c.key]
		}
		close(c.done)
	}
}

// runSafely is run, with a panic made the trip's error: it happens on the
// batch's goroutine, where nothing else would recover it, and its callers
// must still be answered.
func (b *batch[K, V]) runSafely(keys []K) (vals map[K]V, err error) {
	defer func() {
		if r := recover(); r != nil {
			vals, err = nil, fmt.Errorf("store: batch: panic: %v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	return b.run(ctx, keys)
}
