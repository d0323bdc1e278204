package main

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chatzilla/chatzilla/handlers"
)

// reservedFiles are descriptors kept for everything but client connections:
// the database, log files, and accepting a connection only to refuse it.
const reservedFiles = 256

// Of the connections the server can hold, streams may take all but a
// reserve, so that pages, posts and health checks are always served: at
// least minReserve connections and at least reserveShare of them.
const (
	minReserve   = 64
	reserveShare = 0.05
)

// Idle keep-alive connections normally stay open for idleTimeout; once
// crowdedShare of the connections are taken, idle ones are closed after
// crowdedIdle (checked every idleCheck), so that connections nobody is using
// do not keep out those who would use them.
const (
	idleTimeout  = 2 * time.Minute
	crowdedShare = 0.75
	crowdedIdle  = 5 * time.Second
	idleCheck    = time.Second
)

// capacity is how many connections and streams the server takes on.
type capacity struct {
	conns, streams                     int // 0 conns: not limited here
	connsPerAddress, streamsPerAddress int
}

// plan derives the limits from the open-file limit and the configuration.
// Streams get the connections less the reserve (half of them if the limit
// is so low that the reserve would leave less); no address may take more
// than half of either, so one client cannot shut everyone else out.
func plan(files int, cfg config) capacity {
	c := capacity{streams: cfg.MaxStreams, connsPerAddress: cfg.MaxConnsPerAddress, streamsPerAddress: cfg.MaxStreamsPerAddress}
	if files <= 0 {
		return c
	}
	c.conns = max(1, files-reservedFiles)
	reserve := max(minReserve, int(float64(c.conns)*reserveShare+0.999))
	c.streams = min(c.streams, max(c.conns-reserve, c.conns/2, 1))
	c.connsPerAddress = min(c.connsPerAddress, max(1, c.conns/2))
	c.streamsPerAddress = min(c.streamsPerAddress, max(1, c.streams/2))
	return c
}

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

// The whole answer to a connection that cannot be taken. It is written by
// hand, before any request is read, because the server has no room to serve
// it properly.
var (
	refusal          = refusalFor("Chatzilla is full right now. Try again soon.\n")
	addressRefusal   = refusalFor("Too many connections from your address. Close some and try again.\n")
	refusalWriteTime = time.Second
)

func refusalFor(body string) []byte {
	return []byte("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Connection: close\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}

// limitListener accepts at most max connections at once, and at most
// perAddress from one client address (0: no such cap, as behind a proxy,
// where every connection comes from the proxy). Past either it still
// accepts, answers 503 and closes, so clients get a clear "full" instead of
// a connection that hangs while accept fails with "too many open files".
type limitListener struct {
	net.Listener
	max, perAddress int64
	open            atomic.Int64

	mu        sync.Mutex
	byAddress map[string]int64
	idle      map[*countedConn]time.Time // since when, for connections between requests
}

func newLimitListener(ln net.Listener, max, perAddress int) *limitListener {
	return &limitListener{Listener: ln, max: int64(max), perAddress: int64(perAddress),
		byAddress: make(map[string]int64), idle: make(map[*countedConn]time.Time)}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) > l.max {
			l.open.Add(-1)
			go refuse(c, refusal)
			continue
		}
		address := ""
		if l.perAddress > 0 {
			address = handlers.AddressKey(remoteHost(c))
			l.mu.Lock()
			ok := l.byAddress[address] < l.perAddress
			if ok {
				l.byAddress[address]++
			}
			l.mu.Unlock()
			if !ok {
				l.open.Add(-1)
				go refuse(c, addressRefusal)
				continue
			}
		}
		return &countedConn{Conn: c, l: l, address: address}, nil
	}
}

func refuse(c net.Conn, answer []byte) {
	// A short deadline: a client that does not read its refusal must not
	// hold the descriptor.
	_ = c.SetWriteDeadline(time.Now().Add(refusalWriteTime))
	_, _ = c.Write(answer)
	c.Close()
}

func remoteHost(c net.Conn) string {
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}

// connState is the server's ConnState hook: it keeps track of which
// connections are idle between requests.
func (l *limitListener) connState(c net.Conn, state http.ConnState) {
	cc, ok := c.(*countedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if state == http.StateIdle {
		l.idle[cc] = time.Now()
	} else {
		delete(l.idle, cc)
	}
}

// closeIdleWhenCrowded closes connections idle for crowdedIdle whenever
// crowdedShare of the connections are open, until stop is closed. Clients
// open a new connection for their next request, as they do after any idle
// timeout.
func (l *limitListener) closeIdleWhenCrowded(stop <-chan struct{}) {
	t := time.NewTicker(idleCheck)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			if float64(l.open.Load()) < float64(l.max)*crowdedShare {
				continue
			}
			l.mu.Lock()
			var stale []*countedConn
			for c, since := range l.idle {
				if now.Sub(since) >= crowdedIdle {
					stale = append(stale, c)
					delete(l.idle, c)
				}
			}
			l.mu.Unlock()
			for _, c := range stale {
				c.Close()
			}
		}
	}
}

// countedConn gives its place back when closed, once, however it is closed
// (by net/http, or by a stream that took the connection over).
type countedConn struct {
	net.Conn
	l       *limitListener
	address string // "" when not counted per address
	once    sync.Once
}

// NetConn is the connection counted, for code that needs the socket itself
// (streams write to it directly).
func (c *countedConn) NetConn() net.Conn { return c.Conn }

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.l.open.Add(-1)
		c.l.mu.Lock()
		delete(c.l.idle, c)
		if c.address != "" {
			if c.l.byAddress[c.address]--; c.l.byAddress[c.address] <= 0 {
				delete(c.l.byAddress, c.address)
			}
		}
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
