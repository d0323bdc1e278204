package handlers_test

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/handlers"
)

// BenchmarkIdleStreamMemory reports what one open, idle stream costs the
// server: heap and goroutine stacks per stream, measured over 2,000 streams.
// The client side holds bare connections that it never reads from after the
// first line, so almost all of the difference is the server's.
func BenchmarkIdleStreamMemory(b *testing.B) {
	const streams = 2000
	for b.Loop() {
		ts := newTestServer(b, func(o *handlers.Options) { o.Limits.MaxStreamsPerSession = streams })
		c := ts.joined(b, "idle@example.com")
		u, _ := url.Parse(ts.URL)
		cookie := c.Jar.Cookies(u)[0].String()
		request := fmt.Sprintf("GET /events HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\n\r\n", u.Host, cookie)

		beforeHeap, beforeStack := memInUse()
		conns := make([]net.Conn, 0, streams)
		for range streams {
			conn, err := net.Dial("tcp", u.Host)
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, conn)
			if _, err := conn.Write([]byte(request)); err != nil {
				b.Fatal(err)
			}
			// Wait for the headers, so the stream is really open.
			line, err := bufio.NewReaderSize(conn, 16).ReadString('\n')
			if err != nil || !strings.Contains(line, "200") {
				b.Fatalf("stream: %q %v", line, err)
			}
		}
		time.Sleep(200 * time.Millisecond)
		heap, stack := memInUse()
		heap, stack = heap-beforeHeap, stack-beforeStack
		b.ReportMetric(float64(heap+stack)/streams/1024, "KiB/stream")
		b.ReportMetric(float64(heap)/streams/1024, "heap-KiB/stream")
		b.ReportMetric(float64(stack)/streams/1024, "stack-KiB/stream")
		for _, conn := range conns {
			conn.Close()
		}
		ts.Close()
	}
}

// memInUse is the heap and stack memory in use after a full collection.
func memInUse() (heap, stack uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse, m.StackInuse
}
