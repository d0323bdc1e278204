package stream

import (
	"net"
	"testing"
	"time"
)

// tcpPair is a connected pair of loopback sockets: the server's end and
// the client's.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// TestHangupsAreSeen: a client that hangs up is reported once, whatever it
// sent before; one that stays is not; and a connection no longer watched
// is not reported when it ends.
func TestHangupsAreSeen(t *testing.T) {
	t.Parallel()
	gone := make(chan string, 10)
	watch := func(name string) (server, client net.Conn, stop func()) {
		server, client = tcpPair(t)
		stop, ok := watchHangup(server, func() { gone <- name })
		if !ok {
			t.Fatal("a plain socket could not be watched")
		}
		return server, client, stop
	}
	_, leaves, _ := watch("leaves")
	_, chatty, _ := watch("chatty")
	_, stays, _ := watch("stays")
	_ = stays
	server, unwatched, stop := watch("unwatched")

	chatty.Write([]byte("something a client should not send"))
	leaves.Close()
	chatty.Close()
	stop()
	server.Close()
	unwatched.Close()

	got := map[string]int{}
	deadline := time.After(5 * time.Second)
	for len(got) < 2 {
		select {
		case name := <-gone:
			got[name]++
		case <-deadline:
			t.Fatalf("reported: %v; want leaves and chatty", got)
		}
	}
	select {
	case name := <-gone:
		got[name]++
	case <-time.After(300 * time.Millisecond):
	}
	if got["leaves"] != 1 || got["chatty"] != 1 || len(got) != 2 {
		t.Errorf("reported %v, want leaves and chatty once each", got)
	}
}

// TestHangupNeedsAPlainSocket: a connection that is not a socket (TLS, a
// pipe) is left to a read.
func TestHangupNeedsAPlainSocket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, ok := watchHangup(a, func() {}); ok {
		t.Error("a pipe was watched")
	}
}
