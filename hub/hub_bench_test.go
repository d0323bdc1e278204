package hub

import (
	"fmt"
	"testing"
)

// BenchmarkPublish measures one publish to n subscribers, and each
// subscriber receiving it, as a live stream does: ns/delivery is the cost of
// one event reaching one subscriber's hands. Subscribers are drained in
// place rather than with the timer stopped, since stopping the timer reads
// the allocation counters (a stop-the-world) and made a run with one
// subscriber last minutes.
func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{1, 1_000, 10_000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			h := New()
			subs := make([]*Subscriber, n)
			for i := range subs {
				subs[i], _ = h.Subscribe()
			}
			e := event(1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 1; b.Loop(); i++ {
				if _, dropped := h.PublishNow(e); dropped > 0 {
					b.Fatalf("%d subscribers dropped", dropped)
				}
				if i%(SubscriberBuffer/2) == 0 {
					for _, s := range subs {
						for range SubscriberBuffer / 2 {
							<-s.Events()
						}
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
		})
	}
}
