package main

import (
	"math"
	"math/bits"
	"sync"
	"time"
)

// histogram counts durations in microseconds in log-linear buckets, as HDR
// histograms do: values below 256 µs are exact, and above that each power of
// two is split into 128 buckets, so any value is known to within 1%. A fixed
// array means recording never allocates, and two histograms merge by adding
// counts, which lets every stream record without sharing a lock with all the
// others.
type histogram struct {
	counts [histBuckets]uint64
	n      uint64
	max    uint64
}

const (
	histSubBits = 7
	histSub     = 1 << histSubBits // buckets per power of two
	// histMaxShift makes the largest tracked value about 2^34 µs (4.8 hours);
	// anything longer is recorded as that.
	histMaxShift = 26
	histBuckets  = histMaxShift*histSub + 2*histSub
	histMaxValue = (2*histSub)<<histMaxShift - 1
)

// histIndex is the bucket of v: v itself below 256; above, a shift that keeps
// v's top eight bits, and those bits.
func histIndex(v uint64) int {
	shift := max(bits.Len64(v)-(histSubBits+1), 0)
	return shift<<histSubBits + int(v>>shift)
}

// histUpper is the largest value in bucket i, the one a percentile reports:
// a percentile is then never better than what was measured.
func histUpper(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	shift := i>>histSubBits - 1
	sub := uint64(i - shift<<histSubBits)
	return (sub+1)<<shift - 1
}

func (h *histogram) record(d time.Duration) {
	us := uint64(max(d.Microseconds(), 0)) // clocks may disagree by a hair
	us = min(us, histMaxValue)
	h.counts[histIndex(us)]++
	h.n++
	h.max = max(h.max, us)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// percentile is the nearest-rank percentile p (0 < p <= 100): the smallest
// recorded value that at least p% of values are at or below.
func (h *histogram) percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(p / 100 * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(histUpper(i), h.max)) * time.Microsecond
		}
	}
	return time.Duration(h.max) * time.Microsecond
}

func (h *histogram) maxDuration() time.Duration { return time.Duration(h.max) * time.Microsecond }

// shardedHistogram lets thousands of stream goroutines record latencies with
// little contention: stream i always records into shard i%histShards, so two
// goroutines only meet on a lock when they share a shard and a moment.
type shardedHistogram struct {
	shards [histShards]struct {
		mu sync.Mutex
		h  histogram
		_  [64]byte // keeps neighbouring locks off one cache line
	}
}

// histShards is well above the core count of any machine this runs on.
const histShards = 64

func (s *shardedHistogram) record(shard int, d time.Duration) {
	sh := &s.shards[shard%histShards]
	sh.mu.Lock()
	sh.h.record(d)
	sh.mu.Unlock()
}

// total merges every shard. Call it once recording has stopped.
func (s *shardedHistogram) total() *histogram {
	var h histogram
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		h.merge(&sh.h)
		sh.mu.Unlock()
	}
	return &h
}
