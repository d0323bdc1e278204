package main

import (
	"net"
	"sync"
	"time"
)

// acceptQueue is how many connections an eagerListener holds that the
// server has not taken yet: twice Linux's usual accept backlog (somaxconn,
// 4096), which is what a restart storm overflowed.
const acceptQueue = 8192

// eagerListener takes connections off the kernel's accept queue as soon as
// they arrive, on a goroutine that does nothing else, and holds them until
// the server takes them. net/http accepts on the goroutine that then starts
// each connection's own, so after a restart, with every page reconnecting
// at once and the processors busy, the kernel's queue filled up while
// connections waited to be accepted: it then drops new ones, whose clients
// try again only after a second (then three): a fifth of 10,000 reconnects
// did. Held here, they wait their turn instead, in order.
type eagerListener struct {
	net.Listener
	conns  chan net.Conn // closed when the accept loop ends; err says why
	err    error
	closed chan struct{}
	once   sync.Once
}

func newEagerListener(ln net.Listener, queue int) *eagerListener {
	l := &eagerListener{Listener: ln, conns: make(chan net.Conn, queue), closed: make(chan struct{})}
	go l.run()
	return l
}

func (l *eagerListener) run() {
	defer close(l.conns)
	var wait time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			// As net/http does: out of descriptors, say, is worth a wait
			// and another try; anything else ends the listener.
			if ne, ok := err.(net.Error); ok && ne.Temporary() { //nolint:staticcheck // net/http's test, for the same errors
				wait = min(max(2*wait, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(wait):
					continue
				case <-l.closed:
					err = net.ErrClosed
				}
			}
			l.err = err
			return
		}
		wait = 0
		select {
		case l.conns <- c:
		case <-l.closed:
			c.Close()
		}
	}
}

// Accept returns the next connection taken, or the error that ended the
// accept loop: net.ErrClosed after Close, even while connections taken
// before it are still queued (Close lets those go).
func (l *eagerListener) Accept() (net.Conn, error) {
	select {
	case <-l.closed:
		return nil, net.ErrClosed
	default:
	}
	select {
	case c, ok := <-l.conns:
		if !ok {
			return nil, l.err
		}
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close stops accepting. Connections taken but not served are closed, as
// the kernel resets those still in its queue: their clients try again,
// elsewhere.
func (l *eagerListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	err := l.Listener.Close()
	go func() {
		for c := range l.conns {
			c.Close()
		}
	}()
	return err
}
