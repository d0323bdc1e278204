package stream

import (
	"net"
	"syscall"

	"github.com/chatzilla/chatzilla/hub"
)

// netConner is a connection that wraps another, such as the connection
// counter the server's listener adds (tls.Conn has the same method).
type netConner interface{ NetConn() net.Conn }

// unwrap is the connection under c's wrappers: the socket, for a plain
// connection.
func unwrap(c net.Conn) net.Conn {
	for {
		w, ok := c.(netConner)
		if !ok {
			return c
		}
		c = w.NetConn()
	}
}

// directWriter returns a DirectWriter for a plain socket, nil for anything
// else (a TLS connection must go through its own Write).
func directWriter(c net.Conn) hub.DirectWriter {
	sc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &socketWriter{rc: rc}
	w.writeFD = w.writeTo // bound once, so that a write allocates nothing
	return w.write
}

// socketWriter writes to a socket with one non-blocking system call. It
// keeps the frame, the result and the function that Control calls in
// fields, rather than in a closure made for each write: that closure, and
// the variables it shares with the caller, would be allocated on every
// delivery to every stream. The hub never calls one stream's writer
// concurrently.
type socketWriter struct {
	rc      syscall.RawConn
	writeFD func(fd uintptr)
	frame   []byte
	n       int
	err     error
}

func (w *socketWriter) write(frame []byte) (int, error) {
	// The socket is non-blocking, so this never waits for it to drain.
	// Control rather than Write: Write would also check the write
	// deadline, which is only moved by the stream's own writes and may have
	// passed on a stream that has been idle. The hub makes sure the
	// stream's goroutine is not writing at the same time, and Control holds
	// the descriptor open until the write is done.
	w.frame = frame
	err := w.rc.Control(w.writeFD)
	w.frame = nil // do not keep the frame alive until the next write
	n, werr := w.n, w.err
	switch {
	case err != nil:
		return 0, err
	case werr == syscall.EAGAIN:
		return 0, nil
	case werr != nil:
		return 0, werr
	}
	return n, nil
}

func (w *socketWriter) writeTo(fd uintptr) {
	for {
		w.n, w.err = syscall.Write(int(fd), w.frame)
		if w.err != syscall.EINTR {
			return
		}
	}
}
