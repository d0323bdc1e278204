package stream

import (
	"bytes"
	"io"
	"net"
	"testing"
)

// TestDirectWriteSendsTheFrameAndAllocatesNothing: the hub writes to every
// idle stream's socket itself, once per message and stream, so a write that
// allocated would allocate per subscriber on every publish.
func TestDirectWriteSendsTheFrameAndAllocatesNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server := <-accepted
	if server == nil {
		return
	}
	received := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(client)
		received <- b
	}()

	write := directWriter(server)
	if write == nil {
		t.Fatal("no direct writer for a TCP connection")
	}
	frame := []byte("id: 7\ndata: <li><b>ann@example.com</b>: hi</li>\n\n")
	writes := 0
	allocs := testing.AllocsPerRun(200, func() {
		writes++
		if n, err := write(frame); err != nil || n != len(frame) {
			t.Fatalf("write %d: %d bytes of %d, %v", writes, n, len(frame), err)
		}
	})
	if allocs != 0 {
		t.Errorf("a direct write allocates %.0f times, want 0", allocs)
	}
	server.Close()
	if got := <-received; !bytes.Equal(got, bytes.Repeat(frame, writes)) {
		t.Errorf("the client received %d bytes, want %d frames of %d", len(got), writes, len(frame))
	}
}
