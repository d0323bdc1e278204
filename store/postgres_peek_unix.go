//go:build linux || darwin

package store

import (
	"errors"
	"net"
	"syscall"
)

// closedByServer reports whether the server has hung up on an idle pooled
// connection, or sent it anything: an idle connection is sent nothing but a
// goodbye (a terminated backend's FATAL message), so either way it is not
// fit for a statement. It peeks without waiting and without taking the
// bytes, so a live connection is left exactly as it was; it costs one
// system call, no round trip.
func closedByServer(c net.Conn) bool {
	for {
		inner, ok := c.(interface{ NetConn() net.Conn }) // TLS
		if !ok {
			break
		}
		c = inner.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false // cannot tell; the statement will find out
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	dead := false
	// Control, not Read: it takes no read lock, so it never waits behind
	// a read pgconn left pending.
	err = raw.Control(func(fd uintptr) {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == nil: // bytes nobody asked for, or none: the end of the stream
			dead = true
		case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EINTR):
			// Nothing waiting (or no answer this time): alive as far as
			// can be told.
		default: // reset, or another socket error
			dead = true
		}
	})
	return err != nil || dead // err: the socket is closed already
}
