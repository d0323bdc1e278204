package main

import (
	"testing"
	"time"
)

// Every value lands in a bucket whose upper bound is at or above it and
// within 1% of it, and buckets never go backwards.
func TestHistogramBuckets(t *testing.T) {
	prev := -1
	check := func(v uint64) {
		i := histIndex(v)
		if i < prev {
			t.Fatalf("histIndex(%d) = %d, below histIndex of a smaller value (%d)", v, i, prev)
		}
		prev = i
		if i >= histBuckets {
			t.Fatalf("histIndex(%d) = %d, beyond %d buckets", v, i, histBuckets)
		}
		up := histUpper(i)
		if up < v || float64(up-v) > 0.01*float64(v) {
			t.Fatalf("value %d: bucket %d reports %d, more than 1%% off", v, i, up)
		}
	}
	for v := uint64(0); v < 1<<20; v++ {
		check(v)
	}
	for v := uint64(1 << 20); v < histMaxValue; v = v*101/100 + 1 {
		check(v)
	}
	check(histMaxValue)
}

func TestHistogramPercentiles(t *testing.T) {
	us := time.Microsecond
	tests := []struct {
		name   string
		values []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value", []time.Duration{42 * us}, 99, 42 * us},
		{"median of 1..100", seq(1, 100, us), 50, 50 * us},
		{"p90 of 1..100", seq(1, 100, us), 90, 90 * us},
		{"p99 of 1..100", seq(1, 100, us), 99, 99 * us},
		{"p100 is the max", seq(1, 100, us), 100, 100 * us},
		{"nearest rank rounds up", []time.Duration{1 * us, 2 * us, 3 * us}, 50, 2 * us},
		{"p99 of 99 fast and 1 slow", append(seq(1, 99, 0), 5*time.Second), 99, 0},
		{"p99 of 98 fast and 2 slow", append(seq(1, 98, 0), 5*time.Second, 5*time.Second), 99, 5 * time.Second},
		{"a negative latency counts as 0", []time.Duration{-3 * us}, 50, 0},
		{"beyond the range is clamped", []time.Duration{100 * time.Hour}, 50, histMaxValue * us},
	}
	for _, tt := range tests {
		var h histogram
		for _, v := range tt.values {
			h.record(v)
		}
		if got := h.percentile(tt.p); got != tt.want {
			t.Errorf("%s: p%v = %v, want %v", tt.name, tt.p, got, tt.want)
		}
	}
}

// Large values are reported within 1%, never below what was measured.
func TestHistogramLargeValues(t *testing.T) {
	var h histogram
	for _, ms := range []int{10, 20, 30, 40, 1234} {
		h.record(time.Duration(ms) * time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{20, 10 * time.Millisecond}, {60, 30 * time.Millisecond}, {80, 40 * time.Millisecond}} {
		got := h.percentile(c.p)
		if got < c.want || got > c.want*101/100 {
			t.Errorf("p%v = %v, want %v to within 1%%", c.p, got, c.want)
		}
	}
	if h.maxDuration() != 1234*time.Millisecond || h.percentile(100) != 1234*time.Millisecond {
		t.Errorf("max %v, p100 %v; want exactly 1.234s", h.maxDuration(), h.percentile(100))
	}
}

func TestShardedHistogramMergesShards(t *testing.T) {
	var s shardedHistogram
	for i := range 1000 {
		s.record(i, time.Duration(i)*time.Microsecond) // spread over every shard
	}
	h := s.total()
	if h.n != 1000 || h.percentile(50) != 499*time.Microsecond || h.maxDuration() != 999*time.Microsecond {
		t.Errorf("merged: n %d, p50 %v, max %v; want 1000, 499µs, 999µs", h.n, h.percentile(50), h.maxDuration())
	}
}

// seq is lo..hi in units of unit (unit 0 gives that many zeros).
func seq(lo, hi int, unit time.Duration) []time.Duration {
	var out []time.Duration
	for v := lo; v <= hi; v++ {
		out = append(out, time.Duration(v)*unit)
	}
	return out
}
