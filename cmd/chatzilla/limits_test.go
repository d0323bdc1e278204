package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestLimitListenerRefusesPastTheLimit(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &limitListener{Listener: inner, max: 2}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(ln)
	defer srv.Close()

	dial := func() net.Conn {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	held := []net.Conn{dial(), dial()}
	waitFor := func(cond func() bool, what string) {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitFor(func() bool { return ln.open.Load() == 2 }, "two connections to be counted")

	extra := dial()
	extra.SetReadDeadline(time.Now().Add(2 * time.Second))
	b, _ := io.ReadAll(extra)
	if !strings.HasPrefix(string(b), "HTTP/1.1 503 ") || !strings.Contains(string(b), "Retry-After: 5") {
		t.Fatalf("connection past the limit got %q, want a 503 with Retry-After", b)
	}

	held[0].Close()
	waitFor(func() bool { return ln.open.Load() == 1 }, "a closed connection to give its place back")
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + inner.Addr().String())
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("after a place was freed: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestPlanLeavesHeadroom(t *testing.T) {
	cfg := config{MaxStreams: 50000, MaxConnsPerAddress: 1000, MaxStreamsPerAddress: 500}
	tests := []struct {
		files                                       int
		conns, streams, connsPerAddress, perAddress int
	}{
		{512, 256, 192, 128, 96},             // the reserve is 64 connections
		{20000, 19744, 18756, 1000, 500},     // the reserve is 5%
		{1 << 20, 1048320, 50000, 1000, 500}, // STREAMS_MAX applies
		{300, 44, 22, 22, 11},                // too few for the reserve: half
		{0, 0, 50000, 1000, 500},             // the limit is unknown: nothing derived
	}
	for _, tt := range tests {
		c := plan(tt.files, cfg)
		if c.conns != tt.conns || c.streams != tt.streams || c.connsPerAddress != tt.connsPerAddress || c.streamsPerAddress != tt.perAddress {
			t.Errorf("plan(%d) = %+v, want %d connections, %d streams, %d and %d per address", tt.files, c, tt.conns, tt.streams, tt.connsPerAddress, tt.perAddress)
		}
	}
}

func TestLimitListenerCapsOneAddress(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newLimitListener(inner, 10, 2)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(ln)
	defer srv.Close()
	dial := func(source string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}}
		c, err := d.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	dial("127.0.0.1")
	dial("127.0.0.1")
	extra := dial("127.0.0.1")
	extra.SetReadDeadline(time.Now().Add(2 * time.Second))
	b, _ := io.ReadAll(extra)
	if !strings.HasPrefix(string(b), "HTTP/1.1 503 ") || !strings.Contains(string(b), "from your address") {
		t.Fatalf("third connection from one address got %q, want a 503", b)
	}
	other := dial("127.0.0.2")
	fmt.Fprintf(other, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	other.SetReadDeadline(time.Now().Add(2 * time.Second))
	line, _ := bufio.NewReader(other).ReadString('\n')
	if !strings.HasPrefix(line, "HTTP/1.1 200") {
		t.Errorf("another address got %q", line)
	}
}
