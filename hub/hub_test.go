package hub

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func event(id int64) Event {
	return Event{ID: id, Frame: []byte(fmt.Sprintf("id: %d\ndata: m%d\n\n", id, id))}
}

// drain reads what is queued for s without waiting.
func drain(s *Subscriber) (ids []int64, open bool) {
	for {
		select {
		case e, ok := <-s.Events():
			if !ok {
				return ids, false
			}
			ids = append(ids, e.ID)
		default:
			return ids, true
		}
	}
}

func TestPublishReachesEverySubscriberInOrder(t *testing.T) {
	h := New()
	subs := make([]*Subscriber, 50)
	for i := range subs {
		s, err := h.Subscribe()
		if err != nil {
			t.Fatal(err)
		}
		subs[i] = s
	}
	for id := int64(1); id <= 10; id++ {
		if delivered, dropped := h.PublishNow(event(id)); delivered != len(subs) || dropped != 0 {
			t.Fatalf("Publish(%d) = %d delivered, %d dropped; want %d, 0", id, delivered, dropped, len(subs))
		}
	}
	for i, s := range subs {
		ids, open := drain(s)
		if !open {
			t.Fatalf("subscriber %d was closed", i)
		}
		if fmt.Sprint(ids) != "[1 2 3 4 5 6 7 8 9 10]" {
			t.Fatalf("subscriber %d got %v", i, ids)
		}
	}
}

func TestSlowSubscriberIsDroppedWithoutDelayingOthers(t *testing.T) {
	h := New()
	slow, _ := h.Subscribe()
	fast, _ := h.Subscribe()

	var got []int64
	for id := int64(1); id <= SubscriberBuffer+10; id++ {
		h.PublishNow(event(id))
		ids, open := drain(fast) // the fast one keeps up
		if !open {
			t.Fatalf("fast subscriber closed after event %d", id)
		}
		got = append(got, ids...)
	}
	if len(got) != SubscriberBuffer+10 {
		t.Fatalf("fast subscriber got %d events, want %d", len(got), SubscriberBuffer+10)
	}

	ids, open := drain(slow)
	if open {
		t.Fatal("slow subscriber is still open after its buffer overflowed")
	}
	if len(ids) != SubscriberBuffer {
		t.Fatalf("slow subscriber kept %d queued events, want the %d that fit", len(ids), SubscriberBuffer)
	}
	if n := h.Len(); n != 1 {
		t.Fatalf("hub has %d subscribers, want 1", n)
	}
	h.Unsubscribe(slow) // after a drop: must not panic on a closed channel
}

func TestUnsubscribeClosesOnceAndStopsDelivery(t *testing.T) {
	h := New()
	s, _ := h.Subscribe()
	h.Unsubscribe(s)
	h.Unsubscribe(s)
	if _, open := drain(s); open {
		t.Fatal("events channel still open after Unsubscribe")
	}
	if delivered, _ := h.PublishNow(event(1)); delivered != 0 {
		t.Fatalf("delivered to %d subscribers after Unsubscribe", delivered)
	}
}

func TestCloseEndsEveryStreamAndRefusesNewOnes(t *testing.T) {
	h := New()
	subs := []*Subscriber{}
	for range 3 {
		s, _ := h.Subscribe()
		subs = append(subs, s)
	}
	h.Close()
	h.Close() // idempotent
	for i, s := range subs {
		if _, open := drain(s); open {
			t.Fatalf("subscriber %d still open after Close", i)
		}
		h.Unsubscribe(s)
	}
	if _, err := h.Subscribe(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe after Close: err = %v, want ErrClosed", err)
	}
	if h.Len() != 0 {
		t.Fatalf("Len after Close = %d", h.Len())
	}
}

// TestConcurrentUse is for the race detector: publishers, subscribers that
// come and go, and a Close in the middle.
func TestConcurrentUse(t *testing.T) {
	h := New()
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Go(func() {
			for i := range 500 {
				h.PublishNow(event(int64(p*1000 + i)))
			}
		})
	}
	for range 8 {
		wg.Go(func() {
			for range 50 {
				s, err := h.Subscribe()
				if err != nil {
					return
				}
				drain(s)
				h.Unsubscribe(s)
			}
		})
	}
	wg.Go(h.Close)
	wg.Wait()
	if _, err := h.Subscribe(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe after Close: %v", err)
	}
}

func TestPublishIsAsynchronousAndOrdered(t *testing.T) {
	h := New()
	defer h.Close()
	s, _ := h.Subscribe()
	for id := int64(1); id <= 50; id++ {
		h.Publish(event(id))
	}
	for want := int64(1); want <= 50; want++ {
		select {
		case e := <-s.Events():
			if e.ID != want {
				t.Fatalf("got event %d, want %d", e.ID, want)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("event %d never arrived", want)
		}
	}
}

func TestPublishAfterCloseDoesNotBlock(t *testing.T) {
	h := New()
	h.Close()
	done := make(chan struct{})
	go func() {
		for i := range 2 * queueSize {
			h.Publish(event(int64(i)))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Publish blocks after Close")
	}
}

func TestWaitReturnsWhenEveryStreamHasUnsubscribed(t *testing.T) {
	h := New()
	a, _ := h.Subscribe()
	b, _ := h.Subscribe()
	h.Unsubscribe(a)
	h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := h.Wait(ctx); err == nil {
		t.Fatal("Wait returned while a subscriber is still attached")
	}
	h.Unsubscribe(b)
	h.Unsubscribe(b)
	if err := h.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}
