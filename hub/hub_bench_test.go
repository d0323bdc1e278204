package hub

import (
	"fmt"
	"testing"
)

// BenchmarkPublish measures one publish to n subscribers whose buffers are
// drained between publishes, as live streams drain them.
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
			for i := 0; b.Loop(); i++ {
				h.PublishNow(e)
				if i%(SubscriberBuffer/2) == 0 {
					b.StopTimer()
					for _, s := range subs {
						drain(s)
					}
					b.StartTimer()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
		})
	}
}
