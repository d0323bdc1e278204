package stream

import (
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// hangups tells streams on plain sockets that their client hung up, with
// one goroutine and one epoll set for all of them, rather than a goroutine
// each blocked in a read: a client sends nothing on a stream, so all the
// read was for was the end. After a restart every stream opens at once,
// and those goroutines (and their stacks) were a share of the work and of
// each stream's memory.
type hangups struct {
	once sync.Once
	epfd int
	err  error

	mu     sync.Mutex
	next   uint64
	byID   map[uint64]func()
	events []unix.EpollEvent
}

var watcher hangups

// watchHangup calls gone, once, when the client of c hangs up (or the
// connection fails), until stop is called; stop must be called before c
// is closed. ok is false when c cannot be watched this way (not a plain
// socket, or epoll failed): the caller then reads c itself.
func watchHangup(c net.Conn, gone func()) (stop func(), ok bool) {
	tc, isTCP := c.(*net.TCPConn)
	if !isTCP {
		return nil, false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil, false
	}
	w := &watcher
	w.once.Do(w.start)
	if w.err != nil {
		return nil, false
	}
	w.mu.Lock()
	w.next++
	id := w.next
	w.byID[id] = gone
	w.mu.Unlock()
	var ctlErr error
	err = rc.Control(func(fd uintptr) {
		// Edge-triggered: the hang-up is reported once. The epoll data
		// carries the id, not the descriptor, which a later connection may
		// reuse.
		ev := unix.EpollEvent{
			Events: unix.EPOLLRDHUP | unix.EPOLLHUP | unix.EPOLLERR | unix.EPOLLET,
			Fd:     int32(uint32(id)), Pad: int32(uint32(id >> 32)), // the 64-bit data
		}
		ctlErr = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err != nil || ctlErr != nil {
		w.forget(id)
		return nil, false
	}
	return func() {
		w.forget(id)
		_ = rc.Control(func(fd uintptr) { _ = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, int(fd), nil) })
	}, true
}

func (w *hangups) forget(id uint64) {
	w.mu.Lock()
	delete(w.byID, id)
	w.mu.Unlock()
}

func (w *hangups) start() {
	w.epfd, w.err = unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if w.err != nil {
		return
	}
	w.byID = map[uint64]func(){}
	w.events = make([]unix.EpollEvent, 256)
	go w.run()
}

// run waits for hang-ups for as long as the process lives: streams come
// and go, and one goroutine waiting costs nothing between them.
func (w *hangups) run() {
	for {
		n, err := unix.EpollWait(w.epfd, w.events, -1)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			return // cannot happen on a valid epoll set; streams then end on a failed write
		}
		for _, ev := range w.events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			w.mu.Lock()
			gone := w.byID[id]
			delete(w.byID, id)
			w.mu.Unlock()
			if gone != nil {
				gone()
			}
		}
	}
}
