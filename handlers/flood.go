package handlers

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// sweepInterval is how often idle buckets are forgotten, which bounds the
// memory a stream of new sessions or addresses can take.
const sweepInterval = time.Minute

// buckets is a token bucket per key (a session or a client address).
type buckets struct {
	rate  rate.Limit
	burst int

	mu        sync.Mutex
	byKey     map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	limiter *rate.Limiter
	seen    time.Time
}

func newBuckets(perSecond float64, burst int) *buckets {
	return &buckets{rate: rate.Limit(perSecond), burst: burst, byKey: make(map[string]*bucket)}
}

// take takes one token from every key's bucket, or from none: it reports how
// long to wait when any of them is empty.
func (b *buckets) take(now time.Time, keys ...string) (ok bool, retryAfter time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sweep(now)
	reservations := make([]*rate.Reservation, 0, len(keys))
	for _, k := range keys {
		bk := b.byKey[k]
		if bk == nil {
			bk = &bucket{limiter: rate.NewLimiter(b.rate, b.burst)}
			b.byKey[k] = bk
		}
		bk.seen = now
		reservations = append(reservations, bk.limiter.ReserveN(now, 1))
	}
	for _, r := range reservations {
		retryAfter = max(retryAfter, r.DelayFrom(now))
	}
	if retryAfter == 0 {
		return true, 0
	}
	for _, r := range reservations {
		r.CancelAt(now)
	}
	return false, retryAfter
}

// sweep forgets buckets unused for long enough to have refilled: forgetting
// a full bucket changes nothing.
func (b *buckets) sweep(now time.Time) {
	if now.Sub(b.lastSweep) < sweepInterval {
		return
	}
	b.lastSweep = now
	refill := time.Duration(float64(b.burst) / float64(b.rate) * float64(time.Second))
	for k, bk := range b.byKey {
		if now.Sub(bk.seen) > refill {
			delete(b.byKey, k)
		}
	}
}

// retryAfterSeconds is the Retry-After header value: whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
