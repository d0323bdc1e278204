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

// refusedPostWait is how soon, in a storm, a post refused at connect (nothing
// listens: the server is restarting) is tried again. Nothing was sent, so a
// retry cannot store the message twice.
const refusedPostWait = 50 * time.Millisecond

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
// A post refused at connect is tried again for up to retryRefused (0: not at
// all).
func postAll(ctx context.Context, c *http.Client, base *url.URL, run string, senders []*user, total int, rate float64, retryRefused time.Duration) []*postResult {
	results := make([]*postResult, len(senders))
	start := time.Now()
	to := base.JoinPath("messages")
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
				if r.post(ctx, c, to, u.cookie, func(sent int64) string { return encodeMessage(run, s, k, sent) }, retryRefused) {
					r.accepted.add(k)
				}
			}
		})
	}
	wg.Wait()
	return results
}

// post sends the message text(sent) to to and says whether it was accepted.
// Post latency runs from the first try; a retried post carries the send time
// of the try that reached the server, so that its delivery latency is the
// server's and not the restart's.
func (r *postResult) post(ctx context.Context, c *http.Client, to *url.URL, cookie string, text func(sent int64) string, retryRefused time.Duration) bool {
	r.attempts++
	first := time.Now()
	var resp *http.Response
	var err error
	for {
		resp, err = postForm(ctx, c, to, cookie, url.Values{"message": {text(time.Now().UnixNano())}}, true)
		r.last = time.Now()
		if err == nil || errorKind(err) != "refused" || r.last.Sub(first) >= retryRefused ||
			!sleepUntil(ctx, r.last.Add(refusedPostWait)) {
			break
		}
		r.statuses["refused, retried"]++
	}
	if err != nil {
		r.failed++
		r.statuses[errorKind(err)]++
		return false
	}
	r.statuses[strconv.Itoa(resp.StatusCode)]++
	if resp.StatusCode != http.StatusOK {
		r.failed++
		if wait, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && resp.StatusCode == http.StatusTooManyRequests {
			sleepUntil(ctx, time.Now().Add(min(time.Duration(wait)*time.Second, maxRetryAfter)))
		}
		return false
	}
	r.latency.record(r.last.Sub(first))
	return true
}

// post makes the run's posts, then the end marker that tells stream-only
// processes what was posted.
func post(ctx context.Context, c *http.Client, cfg config, senders []*user) (*postReport, bitset, time.Time) {
	started := time.Now()
	var retryRefused time.Duration
	if cfg.Storm {
		retryRefused = cfg.Timeout
	}
	results := postAll(ctx, c, cfg.URL, cfg.Run, senders, cfg.Messages, cfg.Rate, retryRefused)
	pr, accepted, last := sumPosts(results, cfg.Messages, started)
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

// sumPosts adds up the senders' accounts of planned posts that started at
// started: the report, the accepted posts (by sequence number, for postAll's
// senders) and when the last post was answered.
func sumPosts(results []*postResult, planned int, started time.Time) (*postReport, bitset, time.Time) {
	pr := &postReport{Planned: planned, Statuses: map[string]int{}}
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
	return pr, accepted, last
}
