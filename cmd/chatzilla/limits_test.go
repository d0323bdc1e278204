package main

import (
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
