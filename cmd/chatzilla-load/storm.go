package main

// A restart storm is every page reconnecting at once: Heroku restarts every
// dyno at least daily and on every deploy. With -storm each stream behaves as
// a browser's EventSource: when the server ends it, or cannot be reached, it
// waits the reconnection time (a random -reconnect-delay, or the server's
// retry: field) and connects again with Last-Event-ID, for as long as the run
// lasts. Accounting needs nothing special across reconnects: a stream's
// tally is by message, so a message replayed after a reconnect counts once
// if it had not arrived before, and as a duplicate if it had.
//
// The storm "rages" from the first stream end (or the tool's SIGTERM) until
// the server is ready again and every stream that ended is back and has
// received a message sent after its return, that is, it has caught up.
// Deliveries received meanwhile make the storm's latency.

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// minRetryWait is the least a stream waits after a reconnect failed, so that
// "retry: 0" (or -reconnect-delay 0) against a server that refuses
// connections does not spin.
const minRetryWait = 10 * time.Millisecond

// storm is what every stream shares with -storm.
type storm struct {
	delayMin, delayMax time.Duration
	latency            shardedHistogram // deliveries received while the storm raged

	mu       sync.Mutex
	refusals map[string]int // non-200 answers to a reconnect, by status
	errs     map[string]int // reconnects with no answer, by kind (refused, reset, timeout)

	restarting atomic.Bool  // the tool sent SIGTERM and the server is not ready again yet
	unsettled  atomic.Int64 // streams that ended and have not caught up yet
	began      atomic.Int64 // when the first storm began, unix nanos; 0: none yet
	calmed     atomic.Int64 // when the last one ended, unix nanos; 0 while one rages
}

func newStorm(delayMin, delayMax time.Duration) *storm {
	return &storm{delayMin: delayMin, delayMax: delayMax, refusals: map[string]int{}, errs: map[string]int{}}
}

func (st *storm) raging() bool { return st.restarting.Load() || st.unsettled.Load() > 0 }

// rise notes a stream ending (or SIGTERM) at at: the storm began at the
// earliest of them, whichever goroutine gets to note its one first.
func (st *storm) rise(at time.Time) {
	for t := at.UnixNano(); ; {
		began := st.began.Load()
		if began != 0 && began <= t || st.began.CompareAndSwap(began, t) {
			break
		}
	}
	st.calmed.Store(0)
}

func (st *storm) calmIfOver() {
	if !st.raging() {
		st.calmed.Store(time.Now().UnixNano())
	}
}

func (st *storm) count(m map[string]int, key string) {
	st.mu.Lock()
	m[key]++
	st.mu.Unlock()
}

// resuming is one stream's part in a storm. The stream's goroutine owns it;
// handle, which the epoll poller may call, only runs while that goroutine
// waits for the poller.
type resuming struct {
	retry      time.Duration // the server's last retry: field, when hasRetry
	hasRetry   bool
	reconnects []reconnect
	downSince  int64 // unix nanos: the stream ended and is not back yet; 0 while open
	backAt     int64 // unix nanos: the last reconnect
	unsettled  bool  // counted in storm.unsettled: down, or back but not caught up
}

// reconnect is one return of a stream: when it ended and when it was open
// again (the server's first comment read), unix nanos.
type reconnect struct{ down, up int64 }

// delay is the reconnection time: the server's, if it sent one, else a
// random one from -reconnect-delay.
func (r *resuming) delay(st *storm) time.Duration {
	if r.hasRetry {
		return r.retry
	}
	return st.delayMin + rand.N(st.delayMax-st.delayMin+1)
}

// caughtUp notes a message sent at sent (unix nanos) arriving: once one sent
// after the stream came back arrives, the replay is behind it.
func (r *resuming) caughtUp(st *storm, sent int64) {
	if r.unsettled && r.downSince == 0 && sent >= r.backAt {
		r.unsettled = false
		st.unsettled.Add(-1)
		st.calmIfOver()
	}
}

// resume reconnects a stream the server ended: after the reconnection time,
// counted from the end (s.endedAt) as a browser's is, not from when this
// goroutine got to run; again and again until it is back, or until the run
// ends (nil). Answers
// other than a stream, and connects that got no answer, are counted for the
// report. A Retry-After is not honoured: a page's EventSource never sees the
// headers of an answer it refuses, and the page reconnects on its own
// schedule.
func (s *stream) resume(ctx context.Context) *streamConn {
	st := s.shared.storm
	r := &s.resuming
	r.downSince = s.endedAt.UnixNano()
	if !r.unsettled {
		r.unsettled = true
		st.unsettled.Add(1)
		st.rise(s.endedAt)
	}
	at := s.endedAt.Add(r.delay(st))
	for {
		if !sleepUntil(ctx, at) {
			return nil
		}
		c, err := s.connect(ctx, false)
		if err == nil {
			now := time.Now().UnixNano()
			r.reconnects = append(r.reconnects, reconnect{down: r.downSince, up: now})
			r.downSince, r.backAt = 0, now
			s.reconnects++
			return c
		}
		if ctx.Err() != nil {
			return nil
		}
		at = time.Now().Add(max(r.delay(st), minRetryWait))
		if se, ok := errors.AsType[*statusError](err); ok {
			st.count(st.refusals, strconv.Itoa(se.code))
		} else {
			st.count(st.errs, errorKind(err))
		}
	}
}

// statusError is an answer to GET /events (or a room's stream) other than
// 200.
type statusError struct {
	path   string
	code   int
	status string
}

func (e *statusError) Error() string { return "GET " + e.path + ": " + e.status }

// stormReport is what the streams' reconnects showed. Reconnect latency is
// measured from the new server's readiness for a stream that ended between
// the tool's SIGTERM and that moment (it could not have come back sooner),
// and from its disconnect otherwise; sinceDisconnect is always from the
// disconnect. Readiness is /healthz answering or, if sooner, the first
// stream back from the new server (one that ended after SIGTERM and came
// back after the old server stopped listening): the poll of /healthz can
// wait in the same queue as the crowd, and a late answer would make every
// reconnect look quick. That stream's own latency is 0.
type stormReport struct {
	ReconnectDelay   string    `json:"reconnect_delay"`
	Reconnects       int       `json:"reconnects"`
	StreamsBack      int       `json:"streams_reconnected"`
	StreamsBackAgain int       `json:"streams_reconnected_more_than_once"`
	MaxPerStream     int       `json:"max_reconnects_per_stream"`
	NotBack          int       `json:"streams_not_back"` // still reconnecting when the run ended
	Latency          latencies `json:"reconnect_ms"`
	LatencyFrom      string    `json:"reconnect_measured_from"` // "readiness" or "disconnect"
	ReadinessMS      float64   `json:"readiness_ms"`            // readiness, from SIGTERM (with LatencyFrom "readiness")
	ReadinessBy      string    `json:"readiness_by,omitempty"`  // "/healthz" or "the first stream back"
	SinceDisconnect  latencies `json:"since_disconnect_ms"`
	// With a restart: when the streams that ended after SIGTERM ended and
	// came back, from SIGTERM. The first says how fast the old server
	// closed them (and how promptly the client saw it: a client short of
	// CPU sees the ends late), the second when the crowd was back.
	EndedAfterTerm  latencies      `json:"ended_after_sigterm_ms"`
	BackAfterTerm   latencies      `json:"back_after_sigterm_ms"`
	ReplayFailures  int            `json:"replay_failures"`    // non-200 answers to a reconnect
	ReplayStatuses  map[string]int `json:"replay_statuses"`    // those answers, by status
	ConnectErrors   map[string]int `json:"reconnect_errors"`   // reconnects with no answer, by kind
	ServerRetry     int            `json:"streams_told_retry"` // streams that reconnected after a retry: field
	DurationMS      float64        `json:"storm_ms"`           // first disconnect (or SIGTERM) to every stream caught up
	Calmed          bool           `json:"calmed"`             // false: it still raged when the run ended
	Deliveries      uint64         `json:"storm_deliveries"`
	DeliveryLatency latencies      `json:"storm_delivery_latency_ms"`
	Restart         *restartReport `json:"restart,omitempty"`
}

func stormReportOf(streams []*stream, st *storm, rs *restartReport, ended time.Time) *stormReport {
	r := &stormReport{
		ReconnectDelay: st.delayMin.String() + "-" + st.delayMax.String(),
		LatencyFrom:    "disconnect",
		Restart:        rs,
	}
	var from, since, endedAfter, backAfter histogram
	var term, ready int64
	if rs != nil && !rs.ready.IsZero() {
		term, ready = rs.term.UnixNano(), rs.ready.UnixNano()
		r.LatencyFrom, r.ReadinessBy = "readiness", "/healthz"
		stopped := rs.stopped.UnixNano()
		for _, s := range streams {
			for _, c := range s.resuming.reconnects {
				if term <= c.down && stopped <= c.up && c.up < ready {
					ready, r.ReadinessBy = c.up, "the first stream back"
				}
			}
		}
		r.ReadinessMS = ms(time.Duration(ready - term))
	}
	for _, s := range streams {
		rc := s.resuming.reconnects
		r.Reconnects += len(rc)
		r.MaxPerStream = max(r.MaxPerStream, len(rc))
		if len(rc) > 0 {
			r.StreamsBack++
		}
		if len(rc) > 1 {
			r.StreamsBackAgain++
		}
		if s.resuming.downSince != 0 {
			r.NotBack++
		}
		if s.resuming.hasRetry {
			r.ServerRetry++
		}
		for _, c := range rc {
			since.record(time.Duration(c.up - c.down))
			base := c.down
			if ready != 0 && term <= c.down && c.down <= ready {
				base = ready
			}
			from.record(time.Duration(c.up - base)) // a reconnect before the poll saw readiness is 0
			if term != 0 && term <= c.down {
				endedAfter.record(time.Duration(c.down - term))
				backAfter.record(time.Duration(c.up - term))
			}
		}
	}
	r.Latency, r.SinceDisconnect = latenciesOf(&from), latenciesOf(&since)
	r.EndedAfterTerm, r.BackAfterTerm = latenciesOf(&endedAfter), latenciesOf(&backAfter)
	st.mu.Lock()
	r.ReplayStatuses, r.ConnectErrors = st.refusals, st.errs
	st.mu.Unlock()
	for _, n := range r.ReplayStatuses {
		r.ReplayFailures += n
	}
	if began := st.began.Load(); began != 0 {
		end, calmed := ended.UnixNano(), st.calmed.Load()
		if !st.raging() && calmed != 0 {
			end, r.Calmed = calmed, true
		}
		r.DurationMS = ms(time.Duration(end - began))
	}
	h := st.latency.total()
	r.Deliveries, r.DeliveryLatency = h.n, latenciesOf(h)
	return r
}
