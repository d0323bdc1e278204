package main

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// TestEagerListenerTakesConnectionsAtOnce: connections are taken off the
// kernel's queue while nobody calls Accept, then handed out in the order
// they came; Close ends Accept with net.ErrClosed and lets go of the
// connections taken but not handed out, whose clients see them closed.
func TestEagerListenerTakesConnectionsAtOnce(t *testing.T) {
	t.Parallel()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := newEagerListener(raw, 16)
	defer l.Close()

	const n = 5
	clients := make([]net.Conn, n)
	for i := range clients {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients[i] = c
		// Each says who it is, to check the order.
		if _, err := c.Write([]byte{byte('a' + i)}); err != nil {
			t.Fatal(err)
		}
		// Taken without anyone calling Accept.
		for deadline := time.Now().Add(5 * time.Second); len(l.conns) != i+1; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d connections taken, want %d", len(l.conns), i+1)
			}
		}
	}

	for i := range 2 {
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 1)
		if _, err := io.ReadFull(c, b); err != nil || b[0] != byte('a'+i) {
			t.Fatalf("connection %d said %q, %v; want %q", i, b, err, string(rune('a'+i)))
		}
		c.Close()
	}

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if c, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v, %v; want net.ErrClosed, though three were queued", c, err)
	}
	for i, c := range clients[2:] {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Errorf("client %d of the connections not served: read %v, want it closed", i+2, err)
		}
	}
	if _, err := net.DialTimeout("tcp", raw.Addr().String(), time.Second); err == nil {
		t.Error("a connection was accepted after Close")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
