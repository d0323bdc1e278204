package stream

import (
	"log/slog"
	"testing"
	"time"
)

// TestRetrySpreadGrowsWithTheStreams: the time browsers are told to wait on
// shutting down spreads over one second per 5,000 streams, at least one
// and at most ten, and uses all of it.
func TestRetrySpreadGrowsWithTheStreams(t *testing.T) {
	for _, c := range []struct {
		streams int64
		spread  time.Duration
	}{{0, time.Second}, {2000, time.Second}, {20000, 4 * time.Second}, {1000000, 10 * time.Second}} {
		p := NewPipeline(Config{Logger: slog.New(slog.DiscardHandler)})
		p.open.Store(c.streams)
		p.Close()
		var longest time.Duration
		for range 2000 {
			w := p.retryWait()
			if w < minRetry || w >= c.spread {
				t.Fatalf("%d streams: waits %v, want %v to %v", c.streams, w, minRetry, c.spread)
			}
			longest = max(longest, w)
		}
		if longest < c.spread*9/10 {
			t.Errorf("%d streams: the longest wait of 2000 is %v, want near %v", c.streams, longest, c.spread)
		}
	}
}
