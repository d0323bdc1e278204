package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
)

const (
	// connBufferSize holds the response head (and chunk sizes, from a
	// server that chunks); larger reads of events bypass it into
	// readBufferSize, where a stream's goroutine reads. Both stay small
	// because 10,000 streams hold 10,000 of each (the epoll poller reads
	// into one buffer of its own instead).
	connBufferSize = 1 << 10
	readBufferSize = 4 << 10
	// idleTimeout drops a stream that has sent nothing, not even a
	// heartbeat (every 15 s), for three heartbeats' time.
	idleTimeout = 45 * time.Second
	// deadlineRefresh is how stale the read deadline may get before it is
	// pushed back, so a busy stream does not reset a timer for every event.
	deadlineRefresh = 5 * time.Second
	// openAttempts and reconnectAttempts bound the retries of a stream
	// before it is given up and reported as not held.
	openAttempts      = 3
	reconnectAttempts = 8
	maxBackoff        = 5 * time.Second
)

// streamShared is what every stream of a run uses.
type streamShared struct {
	addr    string // host:port to dial
	host    string // Host header
	name    string // TLS server name
	path    string // request path of /events (rooms mode: each room's own, in rooms)
	tls     bool
	prefix  []byte // this run's payload prefix
	timeout time.Duration
	sources []net.IP
	sem     chan struct{} // bounds connects in flight, first and re-
	pollers []*poller     // read streams with epoll; nil: a goroutine reads each
	latency shardedHistogram
	connect shardedHistogram
	cutoff  atomic.Int64            // end of the grace period, unix nanos; 0 until posting ends
	end     atomic.Pointer[payload] // the poster's end marker, once any stream sees it
	storm   *storm                  // -storm: how streams reconnect, and what the storm did; nil otherwise
	// Rooms mode: the rooms, and each group's delivery latency. nil
	// otherwise.
	rooms        *roomPlan
	groupLatency []shardedHistogram
}

func newStreamShared(cfg config) *streamShared {
	port := cfg.URL.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[cfg.URL.Scheme]
	}
	var pollers []*poller
	if cfg.Epoll && cfg.URL.Scheme == "http" {
		for range runtime.GOMAXPROCS(0) {
			p, err := newPoller()
			if err != nil {
				break // not on Linux: a goroutine per stream
			}
			pollers = append(pollers, p)
		}
	}
	var st *storm
	if cfg.Storm {
		st = newStorm(cfg.ReconnectMin, cfg.ReconnectMax)
	}
	return &streamShared{
		storm:   st,
		pollers: pollers,
		addr:    net.JoinHostPort(cfg.URL.Hostname(), port),
		host:    cfg.URL.Host,
		name:    cfg.URL.Hostname(),
		path:    "/" + strings.TrimPrefix(cfg.URL.JoinPath("events").EscapedPath(), "/"),
		tls:     cfg.URL.Scheme == "https",
		prefix:  runPrefix(cfg.Run),
		timeout: cfg.Timeout,
		sources: cfg.SourceIPs,
		sem:     make(chan struct{}, cfg.Concurrency),
	}
}

// stream is one simulated browser tab holding /events open. Its goroutine
// owns everything in it except the atomics, which the run polls.
type stream struct {
	index       int
	room        int // rooms mode: its room in shared.rooms; -1: general
	cookie      string
	shared      *streamShared
	tally       tally
	openedAt    atomic.Int64 // first open, unix nanos; 0 if it never opened
	dead        atomic.Bool  // it was dropped and could not reconnect
	reconnects  int
	oversized   int // event lines too long to be a message, skipped
	lastEventID []byte
	endedAt     time.Time // when the connection last ended, as its reader saw it
	err         error     // why it never opened, or why it was given up
	resuming    resuming
}

// run opens the stream, calls opened once the first connect has succeeded or
// failed, then reads until ctx ends, reconnecting with Last-Event-ID whenever
// the server ends the stream, as a browser's EventSource does: with -storm
// after the reconnection time and for as long as it takes, otherwise at once
// and with backoff, up to reconnectAttempts.
func (s *stream) run(ctx context.Context, opened func()) {
	if s.path() == "" {
		s.err = errNoRoom
		opened()
		return
	}
	c, err := s.connectRetrying(ctx, openAttempts)
	if err != nil {
		s.err = err
		opened()
		return
	}
	s.openedAt.Store(time.Now().UnixNano())
	opened()
	for {
		_ = s.serve(ctx, c) // any end of the stream, EOF or error, means reconnect
		c.close()
		s.oversized += c.events.skipped
		if ctx.Err() != nil {
			return
		}
		if s.shared.storm != nil {
			if c.events.hasRetry {
				s.resuming.retry, s.resuming.hasRetry = c.events.retry, true
			}
			if c = s.resume(ctx); c == nil {
				return // the run ended
			}
			continue
		}
		s.reconnects++
		if c, err = s.connectRetrying(ctx, reconnectAttempts); err != nil {
			if ctx.Err() == nil {
				s.err = err
				s.dead.Store(true)
			}
			return
		}
	}
}

// streamConn is one open connection of a stream.
type streamConn struct {
	conn     net.Conn
	head     *bufio.Reader // what conn gave the response head, and maybe more
	body     io.Reader     // the event stream
	identity bool          // the body is the bytes as sent (not chunked)
	events   *sseParser
	buf      []byte      // where the stream's goroutine reads the body to
	stop     func() bool // unregisters the close-on-cancel hook
}

// streamEnd is why a polled connection ended, and when the poller saw it.
type streamEnd struct {
	err error
	at  time.Time
}

// serve reads c until it ends: in a poller if there is one, else here. It
// notes when it ended in s.endedAt: in a poller, when the poller read the
// end, which may be well before this goroutine runs again (a storm wakes
// thousands at once), as a browser's reconnection timer starts at the end
// itself. (When ctx ends, the run is over and nothing reconnects.)
func (s *stream) serve(ctx context.Context, c *streamConn) error {
	sh := s.shared
	if len(sh.pollers) == 0 || !c.identity {
		return s.read(c)
	}
	// What the response head's reader read past the head goes first.
	p := sh.pollers[s.index%len(sh.pollers)]
	pc, err := p.add(s, c.conn, c.events, peekBuffered(c.head))
	if err != nil {
		return s.read(c)
	}
	c.buf = nil // the poller reads into its own buffer
	select {
	case end := <-pc.ended:
		s.endedAt = end.at
		return end.err
	case <-ctx.Done():
		p.remove(pc)
		return ctx.Err()
	}
}

// path is the request path of the stream: /events, or its room's.
func (s *stream) path() string {
	if s.room < 0 {
		return s.shared.path
	}
	return s.shared.rooms.rooms[s.room].streamPath
}

func peekBuffered(r *bufio.Reader) []byte {
	b, _ := r.Peek(r.Buffered())
	return b
}

func (c *streamConn) close() {
	c.stop()
	c.conn.Close()
}

func (s *stream) connectRetrying(ctx context.Context, attempts int) (*streamConn, error) {
	backoff := 100 * time.Millisecond
	for i := 1; ; i++ {
		c, err := s.connect(ctx, true)
		if err == nil || i == attempts || !sleepUntil(ctx, time.Now().Add(backoff)) {
			return c, err
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// connect opens /events on a plain connection with a hand-written request:
// one goroutine and two small buffers per stream. Through an http.Transport
// each stream also has the transport's read and write goroutines and
// buffers, about twice the memory and three goroutines per stream (so many
// idle streams would cost the load client more than the server). The stream counts as open
// once the server's first comment arrives, since the server subscribes to
// new messages before it sends anything. bounded makes it wait its turn
// among -concurrency connects in flight; a storm's reconnects do not, since a
// crowd of browsers has no such limit.
func (s *stream) connect(ctx context.Context, bounded bool) (_ *streamConn, err error) {
	sh := s.shared
	if bounded {
		select {
		case sh.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		defer func() { <-sh.sem }()
	}
	started := time.Now()
	dialCtx, cancel := context.WithTimeout(ctx, sh.timeout)
	defer cancel()

	// No TCP keep-alive probes: their settings cost four system calls a
	// connection, and a stream is never idle long enough for one.
	d := net.Dialer{KeepAlive: -1}
	if len(sh.sources) > 0 {
		d.LocalAddr = &net.TCPAddr{IP: sh.sources[s.index%len(sh.sources)]}
	}
	conn, err := d.DialContext(dialCtx, "tcp", sh.addr)
	if err != nil {
		return nil, err
	}
	// Closing the connection is how a blocked read learns the run is over.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer func() {
		if err != nil {
			stop()
			conn.Close()
		}
	}()
	_ = conn.SetDeadline(started.Add(sh.timeout))
	if sh.tls {
		tc := tls.Client(conn, &tls.Config{ServerName: sh.name})
		if err := tc.HandshakeContext(dialCtx); err != nil {
			return nil, err
		}
		conn = tc
	}

	var req strings.Builder
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: chatzilla-load\r\n"+
		"Accept: text/event-stream\r\nCache-Control: no-cache\r\nCookie: %s\r\n", s.path(), sh.host, s.cookie)
	// The id came from the server; one that could break the header line
	// is not sent back (Chatzilla's ids are plain numbers).
	if len(s.lastEventID) > 0 && !bytes.ContainsAny(s.lastEventID, "\r\n") {
		fmt.Fprintf(&req, "Last-Event-ID: %s\r\n", s.lastEventID)
	}
	req.WriteString("\r\n")
	if _, err := conn.Write([]byte(req.String())); err != nil {
		return nil, err
	}
	head := bufio.NewReaderSize(conn, connBufferSize)
	resp, err := http.ReadResponse(head, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &statusError{path: s.path(), code: resp.StatusCode, status: resp.Status}
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return nil, fmt.Errorf("GET %s: content type %q, not an event stream", s.path(), ct)
	}
	c := &streamConn{
		conn:     conn,
		head:     head,
		body:     resp.Body,
		identity: len(resp.TransferEncoding) == 0,
		events:   &sseParser{},
		buf:      make([]byte, readBufferSize),
		stop:     stop,
	}
	for opened := false; !opened; {
		n, err := c.body.Read(c.buf)
		now := time.Now()
		c.events.feed(c.buf[:n], func(item sseItem) {
			opened = true
			s.handle(item, now)
		})
		if err != nil && !opened {
			return nil, fmt.Errorf("GET %s: %w before the first comment", s.path(), err)
		}
	}
	_ = conn.SetDeadline(time.Time{})
	sh.connect.record(s.index, time.Since(started))
	return c, nil
}

// read handles events until the stream ends, and notes when in s.endedAt.
func (s *stream) read(c *streamConn) error {
	defer func() { s.endedAt = time.Now() }()
	var deadlineSet time.Time
	now := time.Now()
	for {
		if now.Sub(deadlineSet) > deadlineRefresh {
			if err := c.conn.SetReadDeadline(now.Add(idleTimeout)); err != nil {
				return err
			}
			deadlineSet = now
		}
		n, err := c.body.Read(c.buf)
		now = time.Now()
		c.events.feed(c.buf[:n], func(item sseItem) { s.handle(item, now) })
		if err != nil {
			return err
		}
	}
}

// handle scores one event, read at now. Comments and events that carry no
// payload of this run are other traffic and only move the stream's position.
func (s *stream) handle(item sseItem, now time.Time) {
	if item.comment {
		return
	}
	sh := s.shared
	if item.id != nil {
		s.lastEventID = append(s.lastEventID[:0], item.id...)
	}
	p, found, err := findPayload(item.data, sh.prefix)
	switch {
	case !found:
		return
	case err != nil:
		s.tally.malformed++
		return
	case p.end:
		sh.end.CompareAndSwap(nil, &p)
		return
	case p.inRoom != (s.room >= 0) || p.inRoom && p.room != s.room:
		s.tally.misrouted++ // another room's message, or a room's in general
		return
	}
	id, _, _ := leadingNumber(item.id)
	at := now.UnixNano()
	if sh.storm != nil {
		s.resuming.caughtUp(sh.storm, p.sent)
	}
	if s.tally.record(id, p.seq, p.sent, at, sh.cutoff.Load()) == delivered {
		sh.latency.record(s.index, time.Duration(at-p.sent))
		if sh.rooms != nil {
			sh.groupLatency[sh.rooms.groupOf(s.room)].record(s.index, time.Duration(at-p.sent))
		}
		if sh.storm != nil && sh.storm.raging() {
			sh.storm.latency.record(s.index, time.Duration(at-p.sent))
		}
	}
}
