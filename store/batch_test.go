package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBatchSharesTrips holds the first trip until a crowd has queued behind
// it, then checks that the crowd went in few trips, each at most max keys
// and never the same key twice, and that every caller got its own value.
func TestBatchSharesTrips(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var trips atomic.Int32
	var mu sync.Mutex
	var sizes []int
	b := newBatch(64, 2, func(ctx context.Context, keys []int) (map[int]string, error) {
		mu.Lock()
		sizes = append(sizes, len(keys))
		mu.Unlock()
		if trips.Add(1) <= 2 {
			<-release // the first trips wait while the crowd queues
		}
		vals := map[int]string{}
		for _, k := range keys {
			if k%10 != 0 { // every tenth key has no value
				vals[k] = fmt.Sprint("v", k)
			}
		}
		return vals, nil
	})

	const callers = 500
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Go(func() {
			k := i
			v, ok, err := b.get(t.Context(), k)
			switch {
			case err != nil:
				errs <- err
			case ok != (k%10 != 0), ok && v != fmt.Sprint("v", k):
				errs <- fmt.Errorf("key %d: got %q, %v", k, v, ok)
			}
		})
	}
	// Both trips under way, and everyone else queued behind them.
	waitFor(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		mu.Lock()
		defer mu.Unlock()
		onTrips := 0
		for _, n := range sizes {
			onTrips += n
		}
		return len(sizes) == 2 && onTrips+len(b.queue) == callers
	})
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The two first trips, then the rest 64 at a time.
	if n := trips.Load(); n > 2+(callers-2+63)/64 {
		t.Errorf("%d trips for %d callers: not shared (sizes %v)", n, callers, sizes)
	}
	for _, n := range sizes {
		if n > 64 {
			t.Errorf("a trip of %d keys, more than max 64", n)
		}
	}
}

// TestBatchAsksOnceForAKey: callers waiting for the same key share its
// place in the trip.
func TestBatchAsksOnceForAKey(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	var mu sync.Mutex
	var asked [][]string
	b := newBatch(8, 1, func(ctx context.Context, keys []string) (map[string]int, error) {
		mu.Lock()
		asked = append(asked, keys)
		mu.Unlock()
		started <- struct{}{}
		<-release
		return map[string]int{"a": 1}, nil
	})
	var wg sync.WaitGroup
	get := func() {
		wg.Go(func() {
			if v, ok, err := b.get(t.Context(), "a"); err != nil || !ok || v != 1 {
				t.Errorf("got %d, %v, %v", v, ok, err)
			}
		})
	}
	get()
	<-started // the first trip is under way; three more queue behind it
	get()
	get()
	get()
	waitFor(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.queue) == 3 })
	close(release)
	wg.Wait()
	if len(asked) != 2 || len(asked[1]) != 1 {
		t.Errorf("trips asked for %v, want [[a] [a]]", asked)
	}
}

// TestBatchCallerGivesUp: a caller whose context ends returns at once with
// its error, and the trip it was on still answers the others.
func TestBatchCallerGivesUp(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	b := newBatch(8, 1, func(ctx context.Context, keys []string) (map[string]int, error) {
		<-release
		return map[string]int{"a": 1, "b": 2}, nil
	})
	ctx, cancel := context.WithCancel(t.Context())
	gaveUp := make(chan error, 1)
	go func() { _, _, err := b.get(ctx, "a"); gaveUp <- err }()
	other := make(chan int, 1)
	go func() { v, _, _ := b.get(t.Context(), "b"); other <- v }()
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("the caller that gave up got %v, want context.Canceled", err)
	}
	close(release)
	if v := <-other; v != 2 {
		t.Fatalf("the other caller got %d, want 2", v)
	}
}

// TestBatchError: a trip's error reaches each of its callers, and the next
// trip goes on as if nothing happened.
func TestBatchError(t *testing.T) {
	t.Parallel()
	fail := errors.New("database gone")
	var failing atomic.Bool
	failing.Store(true)
	b := newBatch(8, 1, func(ctx context.Context, keys []string) (map[string]int, error) {
		if failing.Load() {
			return nil, fail
		}
		return map[string]int{"a": 1}, nil
	})
	if _, _, err := b.get(t.Context(), "a"); !errors.Is(err, fail) {
		t.Fatalf("got %v, want the trip's error", err)
	}
	failing.Store(false)
	if v, ok, err := b.get(t.Context(), "a"); err != nil || !ok || v != 1 {
		t.Fatalf("after the failure: %d, %v, %v", v, ok, err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
	}
}
