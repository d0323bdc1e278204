package handlers_test

import (
	"bufio"
	"net"
	"runtime"
	"strings"
	"syscall"
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
		addr, request := ts.rawStreamRequest(ts.joined(b, "idle@example.com"), "")

		beforeHeap, beforeStack := memInUse()
		conns := make([]net.Conn, 0, streams)
		for range streams {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, conn)
			if _, err := conn.Write(request); err != nil {
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

// BenchmarkStreamReconnect is one page's stream coming back after a
// restart, as a crowd's do: connect, GET /events with a Last-Event-ID (its
// replay, empty, from memory), the answer's head and first comment, then
// the page goes. Client and server share this process, so the figures are
// both together (cpu-µs/op: their CPU, user and system); what changes on
// the server's side shows in them all the same (the system calls of
// loopback TCP are in them on both sides).
func BenchmarkStreamReconnect(b *testing.B) {
	ts := newTestServer(b, func(o *handlers.Options) { o.Limits.MaxStreamsPerSession = 1 << 20 })
	addr, request := ts.rawStreamRequest(ts.joined(b, "back@example.com"), "Accept: text/event-stream\r\nLast-Event-ID: 0\r\n")
	buf := make([]byte, 4096)
	b.ReportAllocs()
	cpuBefore := cpuTime(b)
	for b.Loop() {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := conn.Write(request); err != nil {
			b.Fatal(err)
		}
		// The head, then the first comment: the stream is open.
		var got []byte
		for head := -1; ; {
			n, err := conn.Read(buf)
			if err != nil {
				b.Fatalf("stream: %q %v", got, err)
			}
			got = append(got, buf[:n]...)
			if head < 0 {
				if head = strings.Index(string(got), "\r\n\r\n"); head >= 0 && !strings.Contains(string(got[:head]), " 200 ") {
					b.Fatalf("stream: %q", got)
				}
			}
			if head >= 0 && strings.Contains(string(got[head+4:]), "\n\n") {
				break
			}
		}
		conn.Close()
	}
	b.ReportMetric(float64((cpuTime(b)-cpuBefore).Microseconds())/float64(b.N), "cpu-µs/op")
}

// cpuTime is the CPU this process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
