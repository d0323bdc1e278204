package handlers

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// forgetEvery is how often idle buckets are forgotten, which bounds the
// memory a stream of new sessions or addresses can take.
const forgetEvery = time.Minute

// buckets is a token bucket per key (a session or a client address).
type buckets struct {
	rate  rate.Limit
	burst int

	mu         sync.Mutex
	byKey      map[string]*bucket
	lastForget time.Time
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
	b.forgetIdle(now)
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

// forgetIdle forgets buckets unused for long enough to have refilled: forgetting
// a full bucket changes nothing.
func (b *buckets) forgetIdle(now time.Time) {
	if now.Sub(b.lastForget) < forgetEvery {
		return
	}
	b.lastForget = now
	refill := time.Duration(float64(b.burst) / float64(b.rate) * float64(time.Second))
	for k, bk := range b.byKey {
		if now.Sub(bk.seen) > refill {
			delete(b.byKey, k)
		}
	}
}

// tooFast takes a token from the bucket in b of each of keys, when flood
// control is on. When one is empty, it sets Retry-After and returns the
// seconds to wait; 0 means go ahead.
func (s *server) tooFast(c echo.Context, b *buckets, keys ...string) (wait int) {
	if !s.Limits.FloodControl {
		return 0
	}
	ok, d := b.take(time.Now(), keys...)
	if ok {
		return 0
	}
	wait = retryAfterSeconds(d)
	c.Response().Header().Set("Retry-After", strconv.Itoa(wait))
	return wait
}

// retryAfterSeconds is the Retry-After header value: whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
