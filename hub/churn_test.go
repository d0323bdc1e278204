package hub

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestEveryStreamGetsEveryEventInOrderWhileOthersComeAndGo runs the hub the
// way the server does, under churn: subscribers that behave like streams
// (Idle, then drain Events, skipping with After what they have), whose
// clients take a random part of each direct write, while others subscribe
// and leave throughout and events are published as fast as the hub takes
// them. Every subscriber that stays must get, with no gap, repeat or
// reordering, every event published after it subscribed.
func TestEveryStreamGetsEveryEventInOrderWhileOthersComeAndGo(t *testing.T) {
	for _, c := range []struct {
		name        string
		subscribers int // at the start; more come and go while events are published
		events      int
		pace        time.Duration // between events
		frameSize   int
		direct      bool
	}{
		{"direct writes, rounds over several goroutines", 2*shardSize + 100, 600, 50 * time.Microsecond, 40, true},
		{"queued, rounds over several goroutines", 2*shardSize + 100, 600, 50 * time.Microsecond, 40, false},
		// One event per write, so streams that fall behind catch up over
		// several rounds.
		{"frames over half the coalescing limit", 20, 50, time.Millisecond, maxCoalesceBytes/2 + 1, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := New()
			var published atomic.Int64 // the highest id Publish was called for
			var mu sync.Mutex
			var streams []*churnStream
			open := func() *churnStream {
				s, err := h.Subscribe()
				if err != nil {
					t.Fatal(err)
				}
				st := &churnStream{sub: s, from: published.Load() + 1, done: make(chan struct{})}
				if c.direct {
					s.SetDirect(st.directWrite)
				}
				go st.serve()
				mu.Lock()
				streams = append(streams, st)
				mu.Unlock()
				return st
			}
			for range c.subscribers {
				open()
			}

			// While events are published, four goroutines open streams and
			// close about half of them.
			stop := make(chan struct{})
			var churn sync.WaitGroup
			for range 4 {
				churn.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						st := open()
						time.Sleep(time.Duration(rand.IntN(1000)) * time.Microsecond)
						if rand.IntN(2) == 0 {
							st.left = true
							h.Unsubscribe(st.sub)
						}
					}
				})
			}
			pad := bytes.Repeat([]byte("x"), c.frameSize)
			last := int64(c.events)
			for id := int64(1); id <= last; id++ {
				published.Store(id)
				h.Publish(Event{ID: id, Frame: fmt.Appendf(nil, "id: %d\ndata: %s\n\n", id, pad)})
				if id%7 == 0 {
					h.Publish(Event{Frame: []byte(": notice\n\n")})
				}
				time.Sleep(c.pace)
			}
			close(stop)
			churn.Wait()
			t0 := time.Now()
			waitUntilWithin(t, time.Minute, func() bool { return len(h.log.Load().events) == 0 }, "every event to be sent to everyone")
			t.Logf("drained in %v after %d events", time.Since(t0), last)

			mu.Lock()
			defer mu.Unlock()
			// Those the hub dropped for falling behind are no longer in it.
			h.mu.Lock()
			for _, st := range streams {
				st.dropped = !st.left && st.sub.index < 0
			}
			h.mu.Unlock()
			for _, st := range streams {
				h.Unsubscribe(st.sub)
				<-st.done
			}
			h.Close()
			complete := 0
			for i, st := range streams {
				ids, err := st.ids()
				if err != nil {
					t.Fatalf("stream %d: %v", i, err)
				}
				for k := 1; k < len(ids); k++ {
					if ids[k] != ids[k-1]+1 {
						t.Fatalf("stream %d got %d then %d", i, ids[k-1], ids[k])
					}
				}
				if len(ids) > 0 && ids[0] > st.from {
					t.Fatalf("stream %d subscribed before event %d was published, but got %d first", i, st.from, ids[0])
				}
				if st.left || st.dropped || st.from > last {
					continue
				}
				if len(ids) == 0 || ids[len(ids)-1] != last {
					t.Fatalf("stream %d stayed, but got %d events ending %v (wanted from %d to %d)", i, len(ids), ids[max(0, len(ids)-1):], st.from, last)
				}
				complete++
			}
			if complete < c.subscribers/2 {
				t.Fatalf("only %d of %d streams got everything: too many dropped for the test to mean much", complete, len(streams))
			}
			t.Logf("%d events; %d streams, of which %d stayed to the end and got every event", last, len(streams), complete)
		})
	}
}

// churnStream plays a stream: what its client received is got.
type churnStream struct {
	sub     *Subscriber
	from    int64 // the first message id it must get
	left    bool  // unsubscribed before the end; set before Unsubscribe
	dropped bool  // by the hub, for falling behind
	done    chan struct{}

	mu  sync.Mutex
	got []byte
}

// directWrite takes all of frame, or a random part of it, as a client
// whose socket buffer is filling up would.
func (st *churnStream) directWrite(frame []byte) (int, error) {
	n := len(frame)
	if rand.IntN(4) == 0 {
		n = rand.IntN(len(frame) + 1)
	}
	st.receive(frame[:n])
	return n, nil
}

func (st *churnStream) receive(b []byte) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.got = append(st.got, b...)
}

// serve is handlers.openStream.live's loop, without the socket.
func (st *churnStream) serve() {
	defer close(st.done)
	var last int64
	for {
		st.sub.Idle(last)
		e, ok := <-st.sub.Events()
		if !ok {
			return
		}
		for more := true; more; {
			st.receive(e.After(last))
			last = max(last, e.ID)
			select {
			case e, more = <-st.sub.Events():
			default:
				more = false
			}
		}
	}
}

// ids are the message ids in what the client received, which must be whole
// frames.
func (st *churnStream) ids() ([]int64, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	var ids []int64
	for b := st.got; len(b) > 0; {
		end := bytes.Index(b, []byte("\n\n"))
		if end < 0 {
			return ids, fmt.Errorf("a frame cut short: %.40q", b)
		}
		frame := b[:end]
		b = b[end+2:]
		if bytes.HasPrefix(frame, []byte(": ")) {
			continue // a notice
		}
		line, _, _ := bytes.Cut(frame, []byte("\n"))
		id, err := strconv.ParseInt(string(bytes.TrimPrefix(line, []byte("id: "))), 10, 64)
		if err != nil {
			return ids, fmt.Errorf("frame %.40q: %v", frame, err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
