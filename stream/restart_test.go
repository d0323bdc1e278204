package stream

import (
	"testing"
	"time"
)

func TestRestartSpreadGrowsWithStreams(t *testing.T) {
	for _, c := range []struct {
		open int
		want time.Duration
	}{
		{0, 0},
		{1, 100 * time.Microsecond},
		{2_000, 200 * time.Millisecond},
		{10_000, time.Second},
		{50_000, time.Second},
	} {
		if got := restartSpread(c.open); got != c.want {
			t.Errorf("restartSpread(%d) = %v, want %v", c.open, got, c.want)
		}
	}
}

func TestRestartRetryIsSpread(t *testing.T) {
	const spread = time.Second
	var low, high int
	for range 1000 {
		r := restartRetry(spread)
		if r < restartRetryMin || r > restartRetryMin+spread {
			t.Fatalf("restartRetry(%v) = %v, want %v to %v", spread, r, restartRetryMin, restartRetryMin+spread)
		}
		if r < restartRetryMin+spread/4 {
			low++
		}
		if r > restartRetryMin+3*spread/4 {
			high++
		}
	}
	// Uniform: about 250 in each quarter; 150 is more than 7 deviations off.
	if low < 150 || high < 150 {
		t.Errorf("of 1000 waits over %v, %d fell in the first quarter and %d in the last, want about 250 each", spread, low, high)
	}
	if got := restartRetry(0); got != restartRetryMin {
		t.Errorf("restartRetry(0) = %v, want %v", got, restartRetryMin)
	}
}

func TestRestartFrame(t *testing.T) {
	got := string(restartFrame(1234567 * time.Microsecond))
	want := "event: chatzilla-restart\nretry: 1234\ndata: \n\n"
	if got != want {
		t.Errorf("restartFrame = %q, want %q", got, want)
	}
}
