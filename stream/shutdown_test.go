package stream_test

import (
	"io"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestShutdownSpreadsReconnects: streams ended by Close are each told,
// before the end, how long to wait before reconnecting (the SSE retry
// field, in an event htmx's extension reads), at random, so that their
// browsers do not all come back at once.
func TestShutdownSpreadsReconnects(t *testing.T) {
	tp := newPipeline(t, openStore(t), nil)
	const streams = 8
	var open []*events
	for range streams {
		e, err := tp.open(t, "")
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, e)
	}
	for tp.Streams() < streams {
		time.Sleep(10 * time.Millisecond)
	}
	tp.Close()

	retry := regexp.MustCompile(`(?m)^retry: (\d+)\nevent: chatzilla-retry\n\n`)
	waits := map[int]bool{}
	for i, e := range open {
		rest, err := io.ReadAll(e.r)
		if err != nil {
			t.Fatalf("stream %d did not end: %v", i, err)
		}
		m := retry.FindAllStringSubmatch(string(rest), -1)
		if len(m) != 1 {
			t.Errorf("stream %d ended with %q, want one retry event", i, rest)
			continue
		}
		// Few streams: spread over one second, none at once.
		ms, _ := strconv.Atoi(m[0][1])
		if ms < 250 || ms >= 1000 {
			t.Errorf("stream %d: retry %d ms, want 250 to 999", i, ms)
		}
		waits[ms] = true
	}
	if len(waits) < 2 {
		t.Errorf("%d streams were all told to wait the same: %v", streams, waits)
	}
}
