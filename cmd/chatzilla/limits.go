package main

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// reservedFiles are descriptors kept for everything but client connections:
// the database, log files, and accepting a connection only to refuse it.
const reservedFiles = 256

// raiseOpenFileLimit lifts the soft limit on open files to the hard limit,
// since every connection (and so every open stream) holds one, and returns
// the limit now in force.
func raiseOpenFileLimit() (int, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, err
		}
	}
	return int(min(lim.Cur, 1<<30)), nil
}

// refusal is the whole answer to a connection beyond the limit. It is
// written by hand, before any request is read, because the server has no
// room to serve it properly.
var refusal = []byte("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Type: text/plain; charset=utf-8\r\n" +
	"Connection: close\r\nContent-Length: 45\r\n\r\nChatzilla is full right now. Try again soon.\n")

// limitListener accepts at most max connections at once. Past that it still
// accepts, answers 503 and closes, so clients get a clear "full" instead of
// a connection that hangs while accept fails with "too many open files".
type limitListener struct {
	net.Listener
	max  int64
	open atomic.Int64
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			return &countedConn{Conn: c, l: l}, nil
		}
		l.open.Add(-1)
		go func() {
			// A short deadline: a client that does not read its refusal
			// must not hold the descriptor.
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = c.Write(refusal)
			c.Close()
		}()
	}
}

// countedConn gives its place back when closed, once, however it is closed
// (by net/http, or by a stream that took the connection over).
type countedConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

// NetConn is the connection counted, for code that needs the socket itself
// (streams write to it directly).
func (c *countedConn) NetConn() net.Conn { return c.Conn }

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}
