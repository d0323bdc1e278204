package main

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// poller reads many streams from one goroutine with epoll. A goroutine per
// stream costs the client a wake-up, two reads (the second one finding
// nothing) and a park for every event; on the server's own machine, that
// CPU is taken from the server being measured. Here one epoll_wait hands
// over every stream that has data, and each is read once.
type poller struct {
	epfd int
	buf  []byte // one read buffer for every stream: only this goroutine reads

	mu      sync.Mutex // held while events are handled, so remove can wait for it
	streams map[int32]*polled
	closed  atomic.Bool
}

// polled is one connection handed to the poller.
type polled struct {
	s        *stream
	fd       int
	events   *sseParser // the connection's, carried over from connecting
	lastRead time.Time
	ended    chan streamEnd // gets why and when the connection ended, once
}

// pollReadSize is how much one read takes from a stream at most.
const pollReadSize = 64 << 10

func newPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	p := &poller{epfd: epfd, buf: make([]byte, pollReadSize), streams: make(map[int32]*polled)}
	go p.run()
	return p, nil
}

// add hands c's socket to the poller, with its parser and what was already
// read from it but not parsed (pending), and returns the polled connection.
// c itself is closed: the poller owns a duplicate of its descriptor. It
// fails (and leaves c open) when c is not a plain TCP connection.
func (p *poller) add(s *stream, c net.Conn, events *sseParser, pending []byte) (*polled, error) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil, errors.New("not a TCP connection")
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd := -1
	var dupErr error
	if err := rc.Control(func(orig uintptr) { fd, dupErr = unix.Dup(int(orig)) }); err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, dupErr
	}
	unix.CloseOnExec(fd)
	c.Close() // the duplicate keeps the socket open, non-blocking as Go made it

	pc := &polled{s: s, fd: fd, events: events, lastRead: time.Now(), ended: make(chan streamEnd, 1)}
	p.mu.Lock()
	defer p.mu.Unlock()
	pc.events.feed(pending, func(item sseItem) { s.handle(item, pc.lastRead) })
	p.streams[int32(fd)] = pc
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		delete(p.streams, int32(fd))
		unix.Close(fd)
		return nil, err
	}
	return pc, nil
}

// remove takes pc from the poller and closes it, unless it has ended
// already. Once it returns, the poller no longer touches pc's stream.
func (p *poller) remove(pc *polled) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.end(pc, nil)
}

// end must be called with p.mu held.
func (p *poller) end(pc *polled, err error) {
	if p.streams[int32(pc.fd)] != pc {
		return
	}
	delete(p.streams, int32(pc.fd))
	_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, pc.fd, nil)
	unix.Close(pc.fd)
	pc.ended <- streamEnd{err: err, at: time.Now()}
}

var errIdle = errors.New("no data, not even a heartbeat, for too long")

// close stops the poller within pollWait. Every stream must have been
// removed or have ended.
func (p *poller) close() { p.closed.Store(true) }

// pollWait is the longest one epoll_wait waits.
const pollWait = 100 // milliseconds

func (p *poller) run() {
	defer unix.Close(p.epfd)
	events := make([]unix.EpollEvent, 256)
	lastSweep := time.Now()
	for !p.closed.Load() {
		n, err := unix.EpollWait(p.epfd, events, pollWait)
		if err != nil && err != unix.EINTR {
			panic("epoll_wait: " + err.Error()) // nothing sensible to go on with
		}
		now := time.Now()
		p.mu.Lock()
		for _, ev := range events[:max(n, 0)] {
			if pc := p.streams[ev.Fd]; pc != nil {
				p.read(pc, now)
			}
		}
		if now.Sub(lastSweep) > deadlineRefresh {
			lastSweep = now
			for _, pc := range p.streams {
				if now.Sub(pc.lastRead) > idleTimeout {
					p.end(pc, errIdle)
				}
			}
		}
		p.mu.Unlock()
	}
}

// read reads what pc's socket holds and handles the events in it. It must
// be called with p.mu held.
func (p *poller) read(pc *polled, now time.Time) {
	for {
		n, err := unix.Read(pc.fd, p.buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return
		case err != nil:
			p.end(pc, err)
			return
		case n == 0:
			p.end(pc, io.EOF)
			return
		}
		pc.lastRead = now
		pc.events.feed(p.buf[:n], func(item sseItem) { pc.s.handle(item, now) })
		if n < len(p.buf) {
			return // drained; epoll says when there is more
		}
	}
}
