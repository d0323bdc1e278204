package main

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// maxRetryAfter bounds how long a sender honours a 429's Retry-After, so a
// run with flood control left on still ends in bounded time.
const maxRetryAfter = 10 * time.Second

// postResult is one sender's account of its posts.
type postResult struct {
	accepted bitset
	attempts int
	failed   int
	statuses map[string]int // by status code or error kind, for the report
	latency  histogram
	last     time.Time // when the last post was answered
}

// postAll posts messages 0..total-1, message k from sender k%len(senders) at
// start+k/rate. The schedule is fixed in advance rather than paced by the
// answers, so a slow server shows as post latency and a late finish instead
// of quietly lowering the rate. Each sender posts one message at a time, like
// a person; one that falls behind posts its overdue messages back to back.
func postAll(ctx context.Context, c *http.Client, base *url.URL, run string, senders []*user, total int, rate float64) []*postResult {
	results := make([]*postResult, len(senders))
	start := time.Now()
	var wg sync.WaitGroup
	for s, u := range senders {
		r := &postResult{statuses: map[string]int{}}
		results[s] = r
		wg.Go(func() {
			for k := s; k < total; k += len(senders) {
				if rate > 0 {
					at := start.Add(time.Duration(float64(k) / rate * float64(time.Second)))
					if !sleepUntil(ctx, at) {
						return
					}
				}
				r.post(ctx, c, base, u.cookie, run, s, k)
			}
		})
	}
	wg.Wait()
	return results
}

func (r *postResult) post(ctx context.Context, c *http.Client, base *url.URL, cookie, run string, sender, seq int) {
	r.attempts++
	sent := time.Now()
	text := encodeMessage(run, sender, seq, sent.UnixNano())
	resp, err := postForm(ctx, c, base.JoinPath("messages"), cookie, url.Values{"message": {text}}, true)
	r.last = time.Now()
	if err != nil {
		r.failed++
		r.statuses[errorKind(err)]++
		return
	}
	r.statuses[strconv.Itoa(resp.StatusCode)]++
	if resp.StatusCode != http.StatusOK {
		r.failed++
		if wait, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && resp.StatusCode == http.StatusTooManyRequests {
			sleepUntil(ctx, time.Now().Add(min(time.Duration(wait)*time.Second, maxRetryAfter)))
		}
		return
	}
	r.latency.record(r.last.Sub(sent))
	r.accepted.add(seq)
}

// post makes the run's posts, then the end marker that tells stream-only
// processes what was posted.
func post(ctx context.Context, c *http.Client, cfg config, senders []*user) (*postReport, bitset, time.Time) {
	started := time.Now()
	results := postAll(ctx, c, cfg.URL, cfg.Run, senders, cfg.Messages, cfg.Rate)
	pr := &postReport{Planned: cfg.Messages, Statuses: map[string]int{}}
	var accepted bitset
	var lat histogram
	last := started
	for _, r := range results {
		accepted.union(r.accepted)
		pr.Attempted += r.attempts
		pr.Failed += r.failed
		for k, v := range r.statuses {
			pr.Statuses[k] += v
		}
		lat.merge(&r.latency)
		if r.last.After(last) {
			last = r.last
		}
	}
	pr.Accepted = accepted.count()
	pr.Latency = latenciesOf(&lat)
	if d := last.Sub(started); d > 0 {
		pr.PerSecond = float64(pr.Attempted) / d.Seconds()
	}
	marker := encodeEnd(cfg.Run, pr.Attempted, pr.Failed, time.Now().UnixNano())
	resp, err := postForm(ctx, c, cfg.URL.JoinPath("messages"), senders[0].cookie, url.Values{"message": {marker}}, true)
	switch {
	case err != nil:
		pr.Statuses["end marker "+errorKind(err)]++
	case resp.StatusCode != http.StatusOK:
		pr.Statuses["end marker "+strconv.Itoa(resp.StatusCode)]++
	}
	return pr, accepted, last
}
