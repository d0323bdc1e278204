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
// its error, the trip it waited for leaves its key out, and the others are
// answered.
func TestBatchCallerGivesUp(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	trips := make(chan []string, 3)
	b := newBatch(8, 1, func(ctx context.Context, keys []string) (map[string]int, error) {
		trips <- keys
		<-release
		return map[string]int{"a": 1, "b": 2, "x": 3}, nil
	})
	go b.get(t.Context(), "x")
	<-trips // the first trip is under way; a and b queue behind it
	ctx, cancel := context.WithCancel(t.Context())
	gaveUp := make(chan error, 1)
	go func() { _, _, err := b.get(ctx, "a"); gaveUp <- err }()
	other := make(chan int, 1)
	go func() { v, _, _ := b.get(t.Context(), "b"); other <- v }()
	waitFor(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.queue) == 2 })
	cancel()
	select {
	case err := <-gaveUp:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the caller that gave up got %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the caller that gave up is still waiting")
	}
	close(release)
	select {
	case v := <-other:
		if v != 2 {
			t.Fatalf("the other caller got %d, want 2", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the other caller was not answered")
	}
	if keys := <-trips; len(keys) != 1 || keys[0] != "b" {
		t.Errorf("the second trip asked for %v, want [b]", keys)
	}
}

// TestBatchPanic: a trip that panics fails its callers, and the next one
// goes on.
func TestBatchPanic(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	b := newBatch(8, 1, func(ctx context.Context, keys []string) (map[string]int, error) {
		if calls.Add(1) == 1 {
			panic("a bug")
		}
		return map[string]int{"a": 1}, nil
	})
	if _, _, err := b.get(t.Context(), "a"); err == nil {
		t.Fatal("a trip that panicked gave no error")
	}
	if v, ok, err := b.get(t.Context(), "a"); err != nil || !ok || v != 1 {
		t.Fatalf("after the panic: %d, %v, %v", v, ok, err)
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

// TestSQLiteInPadsToAPowerOfTwo: an IN list's size is a power of two, its
// arguments the values in order, then the first again.
func TestSQLiteInPadsToAPowerOfTwo(t *testing.T) {
	for _, c := range []struct {
		values []string
		list   string
		args   []any
	}{
		{[]string{"a"}, "(?)", []any{"a"}},
		{[]string{"a", "b"}, "(?,?)", []any{"a", "b"}},
		{[]string{"a", "b", "c"}, "(?,?,?,?)", []any{"a", "b", "c", "a"}},
	} {
		list, args := sqliteIn(c.values)
		if list != c.list || fmt.Sprint(args) != fmt.Sprint(c.args) {
			t.Errorf("sqliteIn(%q) = %s %v, want %s %v", c.values, list, args, c.list, c.args)
		}
	}
}
