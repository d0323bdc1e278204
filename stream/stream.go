// Package stream owns the live message list end to end: the pipeline that
// renders each stored message once and fans it out (Pipeline), and each open
// stream (Stream), from taking the connection over to its last byte.
//
// A message's way, and the file for each step:
//
//	store commit ─▶ Broker.Follow (broker.go; store/broker_*.go)
//	  ─▶ publisher renders and frames it once (publisher.go, frame.go)
//	  ─▶ hub fans the frame out (package hub)
//	  ─▶ each Stream writes it to its client (stream.go, write.go, socket.go)
//
// A stream that resumes is first sent what it missed (replay.go): from the
// latest messages kept framed in memory (recent.go), or from the store.
//
// A stream needs HTTP/1.1: its connection is taken over from net/http
// (hijacked), which costs far less per idle stream than a request kept
// running. Under HTTP/2 the connection cannot be taken over, and Open
// refuses with ErrNeedsHTTP1 rather than fall back to a slower path that
// nothing here serves (the server speaks HTTP/1.1 only, and Heroku's
// router speaks HTTP/1.1 to it).
//
// A stream's goroutines: the request's, which opens it (head, replay) and
// returns; a reader, which notices the client leaving; and the live loop.
// Whoever ends it first, close runs once the live loop or opening stops.
package stream

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/chatzilla/chatzilla/hub"
)

const (
	// HeartbeatInterval keeps an idle stream from looking dead: Heroku's
	// router closes a connection after 55 s without a byte, and other proxies
	// are often stricter.
	HeartbeatInterval = 15 * time.Second
	// defaultWriteTimeout is how long one write to a stream may take. A
	// reader that takes longer has stopped reading; dropping it frees its
	// goroutine and buffers.
	defaultWriteTimeout = 10 * time.Second
	// maxBatch is how many queued events one write sends at most.
	maxBatch = 64
)

// Why a stream ended, as logged, besides the hub's (hub.EndedTooSlow,
// EndedClientLeft, EndedShutdown).
const (
	// EndedSession is for a stream ended because its session ended
	// (see Stream.End).
	EndedSession = "session ended"
	endedTooSlow = "too slow (write timed out)"
)

// Errors Open returns before anything was written: the caller still owns
// the response.
var (
	// ErrClosed: the pipeline is shutting down.
	ErrClosed = errors.New("stream: shutting down")
	// ErrNeedsHTTP1: the connection cannot be taken over (HTTP/2).
	ErrNeedsHTTP1 = errors.New("stream: the connection cannot be taken over; streams need HTTP/1.1")
)

// Request is what the handler checked and decided about a stream.
type Request struct {
	Email string // the reader, counted online while the stream is open
	// Room is the room whose messages the stream carries (0: general).
	Room int64
	// Private: only the room's members may read it (a private or direct
	// room): a stream of someone who leaves it is ended.
	Private bool
	// After is the id of the last message the page has; with Replay, the
	// stream first sends what came after it.
	After  int64
	Replay bool
	// Reconnected is a page that lost its stream: it is sent who is online
	// now, since presence changes are not replayed.
	Reconnected bool
	Log         *slog.Logger
	// OnClose gives back the stream's place (its slot in the limits, its
	// entry in its session's streams). It runs once, first thing when the
	// stream ends, so that a client that sees its stream end and opens
	// another at once finds the place free.
	OnClose func()
}

// Stream is one open stream, for as long as it is open.
type Stream struct {
	p    *Pipeline
	req  Request
	room *room
	conn net.Conn
	// unwatch stops watching conn for the client's hang-up; nil when a
	// goroutine reads conn instead.
	unwatch func()
	sub     *hub.Subscriber
	log     *slog.Logger
	head    []byte

	started time.Time
	exit    func(immediate bool) // leaves presence (see presence.Roster.Enter)
	// clientLeft is set when the client closed the connection before the
	// server did (closing tells them apart); ended holds why the server
	// ended the stream from outside (see End).
	clientLeft, closing atomic.Bool
	ended               atomic.Pointer[string]

	w io.Writer // conn, or the connection it wraps, which can writev
	// batch is reused for every write. It grows as needed, up to maxBatch
	// frames once live, rather than being made at that size: most streams
	// are idle, written to by the hub directly, and never queue more than
	// one or two frames. flush lets go of a larger one (a replay page's).
	batch    net.Buffers
	deadline time.Time // the write deadline now set on conn

	start replayStart // what open replays, decided by Pipeline.Open
}

// Serve runs the stream on the request's goroutine, whose stack is deep
// anyway, until it is open: it sends the head, who is online to a page that
// reconnected, and what the page missed. The live loop then runs on a small
// goroutine of its own, and Serve returns.
func (st *Stream) Serve() {
	if last, ok := st.open(); ok {
		go st.live(last)
	}
}

// open starts the stream. It returns the id of the last message sent, and
// false if the stream ended (open has then closed it).
func (st *Stream) open() (last int64, ok bool) {
	st.started = time.Now()
	why := "opening failed"
	defer func() {
		// Also when something below panics: the recover middleware then
		// has nothing to answer on the taken-over connection, and the
		// stream must still end and give back its place.
		if !ok {
			st.close(why)
		}
	}()
	st.exit = st.p.roster.Enter(st.req.Email)

	// When the client is gone, unsubscribing closes the events channel,
	// which ends the live loop: the stream waits on that one channel
	// alone. A client has nothing to say on a stream, so what tells it is
	// gone is the hang-up: on Linux one epoll set watches every stream's
	// (see watchHangup); elsewhere, or on a TLS connection, a read of the
	// connection that fails, whatever it read before discarded.
	gone := func() {
		// Once the server is closing the connection, the read fails
		// because of that, not because the client left.
		if !st.closing.Load() {
			st.clientLeft.Store(true)
		}
		st.room.hub.Unsubscribe(st.sub)
	}
	var watched bool
	if st.unwatch, watched = watchHangup(unwrap(st.conn), gone); !watched {
		go func() {
			var b [64]byte
			for {
				if _, err := st.conn.Read(b[:]); err != nil {
					gone()
					return
				}
			}
		}()
	}

	// The head and a first comment tell the browser (and any proxy) that
	// the stream is open before there is anything to say. They go out in
	// one write with who is online and the first of the replay, all at
	// hand already: after a restart every page reconnects at once, and
	// each write is a system call on both ends.
	st.batch = append(st.batch, st.head)
	st.head = nil
	// A reconnecting page missed presence changes, which are not replayed:
	// send who is online now. (A first connect follows the page load, which
	// showed who was online moments ago.)
	if st.req.Reconnected {
		st.queueOnline()
	}
	if last, why = st.replay(); why != "" {
		return 0, false
	}
	if st.flush() != nil { // nothing to replay: the head alone
		why = "write failed"
		return 0, false
	}
	return last, true
}

// live sends each new message as it is published, from the stream's own
// goroutine, until the stream ends. It is kept apart from open, and small,
// so that the goroutine's stack stays small while it waits.
//
// Events end when the client leaves, when the stream falls too far behind
// and is dropped, or when the server shuts down; the browser then
// reconnects with Last-Event-ID. Heartbeats come through the hub too (see
// heartbeat).
func (st *Stream) live(last int64) {
	events := st.sub.Events()
	for {
		st.sub.Idle(last)
		e, ok := <-events
		if !ok {
			if st.sub.Ended() == hub.EndedShutdown {
				st.sayRestart()
			}
			st.close("")
			return
		}
		// Send everything already queued in one write.
		for open := true; open; {
			if frame := e.After(last); len(frame) > 0 {
				st.batch = append(st.batch, frame)
			}
			last = max(last, e.ID)
			if len(st.batch) == maxBatch {
				break
			}
			select {
			case e, open = <-events:
			default:
				open = false
			}
		}
		if err := st.flush(); err != nil {
			st.close(failed(err))
			return
		}
	}
}

// End ends the stream from outside its goroutines, saying why: closing the
// connection ends a replay in progress, and leaving the hub ends the live
// loop, which then closes the stream.
func (st *Stream) End(why string) {
	st.ended.CompareAndSwap(nil, &why)
	st.conn.Close()
	st.room.hub.Unsubscribe(st.sub)
}

// close ends the stream: it gives back its place, closes the connection,
// leaves presence and the hub. why is what went wrong on the stream's side,
// if anything; the log gives the first reason that applies: the server
// ended it (End), the client left, the hub dropped it (too slow, shutting
// down), why.
func (st *Stream) close(why string) {
	st.closing.Store(true)
	if st.req.OnClose != nil {
		st.req.OnClose()
	}
	if st.unwatch != nil {
		st.unwatch() // before the descriptor is closed
	}
	st.conn.Close()
	if st.exit != nil { // nil if open failed before entering
		st.exit(false)
	}
	st.p.readers.remove(st)
	st.room.remove(st)
	switch ended := st.sub.Ended(); {
	case st.ended.Load() != nil:
		why = *st.ended.Load()
	case st.clientLeft.Load():
		why = hub.EndedClientLeft
	case ended != "":
		why = ended
	case why == "":
		why = "ended"
	}
	// Every stream a shutdown ends is counted, and Pipeline.Wait logs how
	// many in one line: a line each cost the stopping process 10,000 lines,
	// and CPU its replacement needs as the pages reconnect to it (the log's
	// own limit would hold most of them back too, but mixed with other
	// reasons and without the count). Counted before leaving the hub, which
	// is what Wait waits for.
	logged := why != hub.EndedShutdown || !st.p.countShutdownEnd()
	st.room.hub.Unsubscribe(st.sub) // hub.Wait waits for it
	if logged {
		st.log.Info("stream disconnected", "reason", why, "duration", time.Since(st.started).Round(time.Millisecond))
	}
	st.p.open.Add(-1) // last: Streams() is 0 once every stream is done
}

// failed is why a write failed: the client stopped reading, or something
// else went wrong with the connection.
func failed(err error) string {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return endedTooSlow
	}
	return "write failed"
}
