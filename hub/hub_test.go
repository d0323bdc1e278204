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
	var ids []int64
	for id := int64(1); id <= 50; id++ {
		h.Publish(event(id))
		ids = append(ids, id)
	}
	// Events that waited together may arrive coalesced into one.
	var got string
	for len(got) < len(frames(ids...)) {
		select {
		case e := <-s.Events():
			got += string(e.After(0))
		case <-time.After(2 * time.Second):
			t.Fatalf("only got %q", got)
		}
	}
	if got != frames(ids...) {
		t.Fatalf("got %q, want %q", got, frames(ids...))
	}
}

func TestJoinedEventsSkipWhatAStreamHas(t *testing.T) {
	notice := Event{Frame: []byte("event: people\ndata: x\n\n")}
	e5, e6, e7 := event(5), event(6), event(7)
	j := coalesce([]*Event{&e5, &notice, &e6, &e7})
	if j.ID != 7 {
		t.Errorf("coalesced ID = %d, want 7 (the highest)", j.ID)
	}
	for _, c := range []struct {
		last int64
		want string
	}{
		{0, frames(5) + string(notice.Frame) + frames(6, 7)},
		{4, frames(5) + string(notice.Frame) + frames(6, 7)},
		{5, string(notice.Frame) + frames(6, 7)},
		{6, string(notice.Frame) + frames(7)},
		{7, string(notice.Frame)},
	} {
		if got := string(j.After(c.last)); got != c.want {
			t.Errorf("After(%d) = %q, want %q", c.last, got, c.want)
		}
	}
	// A notice after the messages a stream has, or none before them: what
	// is sent is the frame's tail, not a copy.
	tail := coalesce([]*Event{&e5, &e6, &notice, &e7})
	for _, c := range []struct {
		last int64
		want string
	}{
		{5, frames(6) + string(notice.Frame) + frames(7)},
		{6, string(notice.Frame) + frames(7)},
		{7, string(notice.Frame)},
	} {
		if got := string(tail.After(c.last)); got != c.want {
			t.Errorf("After(%d) = %q, want %q", c.last, got, c.want)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { tail.After(5) }); allocs != 0 {
		t.Errorf("After a tail: %v allocations, want none", allocs)
	}
	first := coalesce([]*Event{&notice, &e5, &e6})
	if got, want := string(first.After(5)), string(notice.Frame)+frames(6); got != want {
		t.Errorf("After(5) = %q, want %q", got, want)
	}
	if got := coalesce([]*Event{&e5, &e6}).After(6); got != nil {
		t.Errorf("a joined event the stream has all of: After = %q, want nothing", got)
	}
	e3 := event(3)
	if got := e3.After(3); got != nil {
		t.Errorf("a single message the stream has: After = %q, want nothing", got)
	}
}

func TestQueuedEventsAreJoinedForOneWrite(t *testing.T) {
	h := New()
	defer h.Close()
	s, _ := h.Subscribe()
	c := &conn{room: -1}
	var writes int // written by the fan-out, read once it has written all
	s.SetDirect(func(frame []byte) (int, error) {
		writes++
		return c.write(frame)
	})
	s.Idle(2) // replayed 1 and 2 from the store already

	h.fanOutMu.Lock() // hold the fan-out so that events wait in the log
	for id := int64(1); id <= 10; id++ {
		h.Publish(event(id))
	}
	h.fanOutMu.Unlock()
	waitUntil(t, func() bool { return c.text() == frames(3, 4, 5, 6, 7, 8, 9, 10) }, "events 3 to 10 written")
	if writes > 2 {
		t.Errorf("%d writes for 10 events that waited together, want them coalesced", writes)
	}
}

// TestEventPublishedDuringARoundReachesTheRestInThatRound: a round sends
// each subscriber everything published up to the moment it gets there, so
// an event published mid-round waits for no one's next round but for the
// subscribers already visited, and the log is emptied once all have it.
func TestEventPublishedDuringARoundReachesTheRestInThatRound(t *testing.T) {
	h := New()
	defer h.Close()
	conns := make([]*conn, 3)
	writes := make([]int, 3) // written by rounds, read after they are done
	for i := range conns {
		s, _ := h.Subscribe()
		conns[i] = &conn{room: -1}
		s.SetDirect(func(frame []byte) (int, error) {
			writes[i]++
			if i == 0 && writes[i] == 1 {
				h.Publish(event(2)) // while the round is at the first subscriber
			}
			return conns[i].write(frame)
		})
		s.Idle(0)
	}

	h.PublishNow(event(1))
	for i := 1; i < 3; i++ {
		if got := conns[i].text(); got != frames(1, 2) || writes[i] != 1 {
			t.Errorf("subscriber %d: %d writes of %q in the round, want event 2 coalesced with 1", i, writes[i], got)
		}
	}
	// The first subscriber gets event 2 in the fan-out's next round.
	waitUntil(t, func() bool { return conns[0].text() == frames(1, 2) }, "event 2 for the first subscriber")
	waitUntil(t, func() bool { return len(h.log.Load().events) == 0 }, "the log to empty")
}

func waitUntil(t *testing.T, cond func() bool, what string) {
	t.Helper()
	waitUntilWithin(t, 2*time.Second, cond, what)
}

func waitUntilWithin(t *testing.T, d time.Duration, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestPublishAfterCloseDoesNotBlock(t *testing.T) {
	h := New()
	h.Close()
	done := make(chan struct{})
	go func() {
		for i := range 2 * maxLogged {
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

// conn is a client connection for direct writes: it takes up to room bytes
// per write (all when room < 0) and records what it got.
type conn struct {
	mu   sync.Mutex
	got  []byte
	room int
	err  error
}

func (c *conn) write(frame []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	n := len(frame)
	if c.room >= 0 {
		n = min(n, c.room)
		c.room -= n
	}
	c.got = append(c.got, frame[:n]...)
	return n, nil
}

func (c *conn) text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.got)
}

func frames(ids ...int64) string {
	var s string
	for _, id := range ids {
		s += string(event(id).Frame)
	}
	return s
}

func TestIdleSubscriberIsWrittenDirectly(t *testing.T) {
	h := New()
	s, _ := h.Subscribe()
	c := &conn{room: -1}
	s.SetDirect(c.write)

	h.PublishNow(event(1)) // not idle yet: queued
	if ids, _ := drain(s); fmt.Sprint(ids) != "[1]" {
		t.Fatalf("before Idle, queued %v, want [1]", ids)
	}
	s.Idle(1)
	for id := int64(1); id <= 3; id++ { // 1 again: already sent, skipped
		if delivered, dropped := h.PublishNow(event(id)); delivered != 1 || dropped != 0 {
			t.Fatalf("Publish(%d) = %d, %d", id, delivered, dropped)
		}
	}
	if got, want := c.text(), frames(2, 3); got != want {
		t.Errorf("written directly %q, want %q", got, want)
	}
	if ids, open := drain(s); len(ids) != 0 || !open {
		t.Errorf("queued %v (open %v) while idle, want nothing", ids, open)
	}
}

func TestDirectWriteHandsTheRestToTheSubscriberInOrder(t *testing.T) {
	h := New()
	s, _ := h.Subscribe()
	c := &conn{room: 5}
	s.SetDirect(c.write)
	s.Idle(0)

	h.PublishNow(event(1)) // 5 bytes written, the rest queued
	h.PublishNow(event(2)) // no longer idle: queued behind the rest
	var queued string
	for range 2 {
		e := <-s.Events()
		queued += string(e.Frame)
		if e.ID == 1 {
			t.Errorf("the rest of a partly written frame kept its id: a stream would skip it")
		}
	}
	if got, want := c.text()+queued, frames(1, 2); got != want {
		t.Errorf("written %q then queued %q, want %q in all", c.text(), queued, want)
	}

	// The subscriber wrote what was queued; idle again, directly again.
	c.room = -1
	s.Idle(2)
	h.PublishNow(event(3))
	if got, want := c.text(), frames(1, 2)[:5]+frames(3); got != want {
		t.Errorf("after Idle again, written %q, want %q", got, want)
	}
}

func TestIdleWithEventsQueuedStaysQueued(t *testing.T) {
	h := New()
	s, _ := h.Subscribe()
	c := &conn{room: -1}
	s.SetDirect(c.write)
	h.PublishNow(event(1))
	s.Idle(0) // event 1 is waiting: writing 2 directly would overtake it
	h.PublishNow(event(2))
	if ids, _ := drain(s); fmt.Sprint(ids) != "[1 2]" || c.text() != "" {
		t.Errorf("queued %v and wrote %q, want [1 2] queued and nothing written", ids, c.text())
	}
}

func TestDirectWriteErrorDropsTheSubscriber(t *testing.T) {
	h := New()
	s, _ := h.Subscribe()
	other, _ := h.Subscribe()
	s.SetDirect((&conn{err: errors.New("connection reset")}).write)
	s.Idle(0)
	if delivered, dropped := h.PublishNow(event(1)); delivered != 1 || dropped != 1 {
		t.Fatalf("Publish = %d delivered, %d dropped; want 1, 1", delivered, dropped)
	}
	if _, open := drain(s); open {
		t.Error("subscriber whose client is gone is still open")
	}
	if ids, _ := drain(other); fmt.Sprint(ids) != "[1]" {
		t.Errorf("other subscriber got %v", ids)
	}
	if h.Len() != 1 {
		t.Errorf("Len = %d, want 1", h.Len())
	}
}

// TestManySubscribersInShards publishes to more subscribers than one fan-out
// goroutine serves, some direct and some queued, with subscribers leaving
// during the fan-out: each one still gets every event, in order.
func TestManySubscribersInShards(t *testing.T) {
	h := New()
	const n = 3*shardSize + 7
	subs := make([]*Subscriber, n)
	conns := make([]*conn, n)
	for i := range subs {
		subs[i], _ = h.Subscribe()
		if i%2 == 0 {
			conns[i] = &conn{room: -1}
			subs[i].SetDirect(conns[i].write)
			subs[i].Idle(0)
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 1; i < n; i += 98 { // queued ones (odd i) only
			h.Unsubscribe(subs[i])
		}
	})
	for id := int64(1); id <= 20; id++ {
		h.PublishNow(event(id))
	}
	wg.Wait()
	want := frames(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20)
	for i, s := range subs {
		if conns[i] != nil {
			if conns[i].text() != want {
				t.Fatalf("direct subscriber %d got %q", i, conns[i].text())
			}
			continue
		}
		ids, open := drain(s)
		if i%98 == 1 {
			if open {
				t.Fatalf("subscriber %d unsubscribed but open", i)
			}
			continue
		}
		if fmt.Sprint(ids) != "[1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20]" {
			t.Fatalf("subscriber %d got %v", i, ids)
		}
	}
}

func TestSendReachesOneSubscriberAlone(t *testing.T) {
	h := New()
	to, _ := h.Subscribe()
	other, _ := h.Subscribe()
	h.Send(to, &Event{Frame: []byte("data: notice\n\n")})
	if got := len(to.Events()); got != 1 {
		t.Errorf("the subscriber sent to has %d events queued, want 1", got)
	}
	if got := len(other.Events()); got != 0 {
		t.Errorf("another subscriber has %d events queued, want 0", got)
	}

	// Written directly while idle, like a published event.
	c := &conn{room: -1}
	idle, _ := h.Subscribe()
	idle.SetDirect(c.write)
	idle.Idle(0)
	h.Send(idle, &Event{Frame: []byte("data: notice\n\n")})
	if got := c.text(); got != "data: notice\n\n" {
		t.Errorf("written directly %q", got)
	}

	// One that cannot take it is dropped, as by the fan-out.
	for range SubscriberBuffer {
		h.Send(other, &Event{Frame: []byte("data: x\n\n")})
	}
	h.Send(other, &Event{Frame: []byte("data: one too many\n\n")})
	if other.Ended() != EndedTooSlow || h.Len() != 2 {
		t.Errorf("full subscriber: ended %q, %d subscribers left; want dropped as too slow", other.Ended(), h.Len())
	}
}
