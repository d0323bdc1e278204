package handlers

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chatzilla/chatzilla/hub"
	"github.com/chatzilla/chatzilla/presence"
	"github.com/chatzilla/chatzilla/store"
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
	// replayPage is how many stored messages a replay reads at a time.
	replayPage = 500
	// replayTimeout bounds one replay read.
	replayTimeout = 10 * time.Second
	// maxBatch is how many queued events one write sends at most.
	maxBatch = 64
	// defaultMaxReplay is the most messages a stream replays (see
	// Options.MaxReplay): enough for a page that lost its connection for a
	// while in a busy chat, few enough that a replay costs well under a
	// megabyte, whatever the size of the history.
	defaultMaxReplay = 2000
)

// stream is the live message list: it replays what the reader missed, then
// sends each new message as it is published.
//
// Once the request is checked, the connection is taken over from net/http
// (hijacked). The request's goroutine opens the stream (head, replay), then
// the live loop runs on one small goroutine of its own. An open stream then
// costs that goroutine, a reader goroutine and little else, rather than
// net/http's buffers and the deep stack of a request in progress: with
// thousands of idle streams, that is most of the server's memory.
func (s *server) stream(c echo.Context) error {
	me, joined, err := s.member(c)
	if err != nil {
		return err
	}
	if !joined {
		return problem(http.StatusUnauthorized, "Join the chat to see messages.")
	}
	after, replay, err := streamStart(c.Request())
	if err != nil {
		return problem(http.StatusBadRequest, err.Error())
	}
	if c.Request().Method == http.MethodHead {
		// What a GET would start with, without opening anything.
		setStreamHeader(c.Response().Header())
		return c.NoContent(http.StatusOK)
	}
	address := clientKey(c)
	if err := s.admitStream(me.SessionID, address); err != nil {
		return err
	}
	// Subscribe before reading history, so that anything published while the
	// replay runs waits in the subscription instead of falling in between.
	sub, err := s.Hub.Subscribe()
	if err != nil {
		s.streams.release(me.SessionID, address)
		if errors.Is(err, hub.ErrClosed) {
			return problem(http.StatusServiceUnavailable, "Chatzilla is restarting. Reconnecting…")
		}
		return err
	}
	conn, _, err := http.NewResponseController(c.Response()).Hijack()
	if err != nil {
		s.Hub.Unsubscribe(sub)
		s.streams.release(me.SessionID, address)
		return err
	}
	socket := unwrap(conn)
	if d := directWriter(socket); d != nil {
		// While the stream's goroutine waits with nothing queued, the hub
		// may write new events to the socket itself (see
		// hub.Subscriber.Idle), which saves waking the goroutine for every
		// message.
		sub.SetDirect(d)
	}

	st := &openStream{
		server:  s,
		conn:    conn,
		w:       socket,
		sub:     sub,
		member:  me,
		address: address,
		log:     s.Logger.With("sender", me.Email, "ip", c.RealIP()),
	}
	s.sessionStreams.add(me.SessionID, st) // so that leaving ends it
	st.log.Info("stream connected", "after", after, "replay", replay)
	reconnected := c.Request().Header.Get("Last-Event-ID") != ""
	if last, ok := st.open(streamHead(c.Response().Header()), reconnected, after, replay); ok {
		go st.live(last)
	}
	return nil
}

// streamHead is the response head, written by hand since the connection is
// hijacked. It keeps the headers middleware set (security headers). The body
// ends when the connection closes, so it needs no chunked framing.
func streamHead(set http.Header) []byte {
	h := set.Clone()
	setStreamHeader(h)
	h.Set("Connection", "close")
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 200 OK\r\n")
	_ = h.Write(&b)
	b.WriteString("\r\n: connected\r\n\r\n")
	return b.Bytes()
}

func setStreamHeader(h http.Header) {
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx and friends: do not buffer
}

// openStream is one stream after its request was accepted, for as long as
// it is open.
type openStream struct {
	*server
	conn    net.Conn
	sub     *hub.Subscriber
	member  member
	address string // the client's, as flood control counts it
	log     *slog.Logger

	started time.Time
	exit    func(immediate bool) // leaves presence (see presence.Room.Enter)
	// clientLeft is set when the client closed the connection before the
	// server did (closing tells them apart); ended holds why the server
	// ended the stream from outside (see end).
	clientLeft, closing atomic.Bool
	ended               atomic.Pointer[string]

	w io.Writer // conn, or the connection it wraps, which can writev
	// batch is reused for every write. It grows as needed, up to maxBatch
	// frames once live, rather than being made at that size: most streams
	// are idle, written to by the hub directly, and never queue more than
	// one or two frames. flush lets go of a larger one (a replay page's).
	batch    net.Buffers
	deadline time.Time // the write deadline now set on conn
}

// open starts the stream on the request's goroutine, whose stack is deep
// anyway: it sends the head, who is online to a page that reconnected, and
// the messages after id after if replay is set (see streamStart). It
// returns the id of the last message sent, and false if the stream ended
// (open has then closed it).
func (st *openStream) open(head []byte, reconnected bool, after int64, replay bool) (last int64, ok bool) {
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
	st.exit = st.Presence.Enter(st.member.Email)

	// Reading is how a closed connection shows itself; a client has nothing
	// else to say on a stream, so whatever it sends is discarded. When the
	// client is gone, unsubscribing closes the events channel, which ends
	// the live loop: the stream waits on that one channel alone.
	go func() {
		var b [64]byte
		for {
			if _, err := st.conn.Read(b[:]); err != nil {
				// Once the server is closing the connection, the
				// read fails because of that, not because the client
				// left.
				if !st.closing.Load() {
					st.clientLeft.Store(true)
				}
				st.Hub.Unsubscribe(st.sub)
				return
			}
		}
	}()

	// The head and a first comment, at once, tell the browser (and any
	// proxy) that the stream is open before there is anything to say.
	if st.send(head) != nil {
		why = "write failed"
		return 0, false
	}

	// A reconnecting page missed presence changes, which are not replayed:
	// send who is online now. (A first connect follows the page load, which
	// showed who was online moments ago.)
	if reconnected {
		people, err := presenceFrame(presence.Change{Online: st.Presence.Online()})
		if err != nil {
			st.log.Error("rendering who is online", "err", err)
			why = "render failed"
			return 0, false
		}
		if st.send(people) != nil {
			why = "write failed"
			return 0, false
		}
	}

	last = after
	if replay {
		// A page further behind than maxReplay is not sent everything it
		// missed, which could be the whole history, for every stream a
		// script cares to open: it is told to reload its list, and the
		// stream goes on from the newest message.
		ctx, cancel := context.WithTimeout(context.Background(), replayTimeout)
		newest, err := st.Store.RecentMessages(ctx, 1)
		cancel()
		if err != nil {
			st.log.Error("stream replay", "after", last, "err", err)
			why = "replay failed" // the browser reconnects and tries again
			return 0, false
		}
		if len(newest) > 0 && newest[0].ID-after > int64(cmp.Or(st.MaxReplay, defaultMaxReplay)) {
			st.log.Info("stream too far behind to replay: told to reload", "after", after, "newest", newest[0].ID)
			if st.send(reloadFrame) != nil {
				why = "write failed"
				return 0, false
			}
			last, replay = newest[0].ID, false
		}
	}
	var prev *store.Message // the message before the next one sent
	for more := replay; more; {
		ctx, cancel := context.WithTimeout(context.Background(), replayTimeout)
		page, err := st.Store.MessagesAfter(ctx, last, replayPage)
		cancel()
		if err != nil {
			st.log.Error("stream replay", "after", last, "err", err)
			why = "replay failed" // the browser reconnects and tries again
			return 0, false
		}
		if prev == nil && len(page) > 0 && after > 0 {
			if prev, err = st.previous(after + 1); err != nil {
				st.log.Error("stream replay", "before", after+1, "err", err)
				why = "replay failed"
				return 0, false
			}
		}
		for i := range page {
			m := page[i]
			frame, err := messageFrame(prev, m)
			if err != nil {
				st.log.Error("rendering message", "id", m.ID, "err", err)
				why = "render failed"
				return 0, false
			}
			st.batch = append(st.batch, frame)
			last, prev = m.ID, &page[i]
		}
		if st.flush() != nil {
			why = "write failed"
			return 0, false
		}
		more = len(page) == replayPage
	}
	return last, true
}

// previous is the latest message before id before, nil if there is none:
// what the first message of a replay follows on from.
func (st *openStream) previous(before int64) (*store.Message, error) {
	ctx, cancel := context.WithTimeout(context.Background(), replayTimeout)
	defer cancel()
	ms, err := st.Store.MessagesBefore(ctx, before, 1)
	if err != nil || len(ms) == 0 {
		return nil, err
	}
	return &ms[0], nil
}

// live sends each new message as it is published, from the stream's own
// goroutine, until the stream ends. It is kept apart from open, and small,
// so that the goroutine's stack stays small while it waits.
//
// Events end when the client leaves, when the stream falls too far behind
// and is dropped, or when the server shuts down; the browser then
// reconnects with Last-Event-ID. Heartbeats come through the hub too (see
// Heartbeat).
func (st *openStream) live(last int64) {
	events := st.sub.Events()
	for {
		st.sub.Idle(last)
		e, ok := <-events
		if !ok {
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

// Why a stream ended, as logged, besides the hub's (hub.EndedTooSlow,
// EndedClientLeft, EndedShutdown).
const (
	endedSession = "session ended"
	endedTooSlow = "too slow (write timed out)"
)

// end ends the stream from outside its goroutines, saying why: closing the
// connection ends a replay in progress, and leaving the hub ends the live
// loop, which then closes the stream.
func (st *openStream) end(why string) {
	st.ended.CompareAndSwap(nil, &why)
	st.conn.Close()
	st.Hub.Unsubscribe(st.sub)
}

// close ends the stream: it closes the connection, leaves the hub and frees
// the stream's place. why is what went wrong on the stream's side, if
// anything; the log gives the first reason that applies: the server ended
// it (end), the client left, the hub dropped it (too slow, shutting down),
// why.
func (st *openStream) close(why string) {
	st.closing.Store(true)
	// The place is given back first: a client (or a test) that sees its
	// stream end may open another at once, and must find the place free.
	st.sessionStreams.remove(st.member.SessionID, st)
	st.streams.release(st.member.SessionID, st.address)
	st.conn.Close()
	if st.exit != nil { // nil if open failed before entering
		st.exit(false)
	}
	st.Hub.Unsubscribe(st.sub) // hub.Wait waits for it, so last but the log line
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
	st.log.Info("stream disconnected", "reason", why, "duration", time.Since(st.started).Round(time.Millisecond))
}

// failed is why a write failed: the client stopped reading, or something
// else went wrong with the connection.
func failed(err error) string {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return endedTooSlow
	}
	return "write failed"
}

func (st *openStream) send(b []byte) error {
	st.batch = append(st.batch, b)
	return st.flush()
}

// flush writes the batch with one system call (writev). Every write gets at
// least half the write timeout: the deadline is moved only when less than
// that is left, since moving it costs more than the write of a small frame.
func (st *openStream) flush() error {
	if len(st.batch) == 0 {
		return nil
	}
	timeout := cmp.Or(st.StreamWriteTimeout, defaultWriteTimeout)
	if now := time.Now(); st.deadline.Sub(now) < timeout/2 {
		st.deadline = now.Add(timeout)
		if err := st.conn.SetWriteDeadline(st.deadline); err != nil {
			return err
		}
	}
	bufs := st.batch // WriteTo consumes its receiver; keep st.batch's array
	_, err := bufs.WriteTo(st.w)
	if cap(st.batch) > maxBatch {
		st.batch = nil // a page of replay: more than the live loop ever queues
	} else {
		clear(st.batch) // let go of frames already sent
		st.batch = st.batch[:0]
	}
	return err
}

// heartbeatFrame is an SSE comment: browsers ignore it, routers see traffic.
var heartbeatFrame = []byte(": heartbeat\n\n")

// Heartbeat sends a comment to every stream at every interval until ctx
// ends, so idle streams are not cut by routers. It is one event for the hub
// to fan out, rather than a timer in every stream.
func Heartbeat(ctx context.Context, h *hub.Hub, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.Publish(hub.Event{Frame: heartbeatFrame})
		}
	}
}

// streamStart says where a stream begins: after the Last-Event-ID a
// reconnecting browser sends, else after the `after` parameter the page put
// in the stream URL, else now (replay is false).
func streamStart(r *http.Request) (after int64, replay bool, err error) {
	v, name := r.Header.Get("Last-Event-ID"), "Last-Event-ID"
	if v == "" {
		v, name = r.URL.Query().Get("after"), "after"
	}
	if v == "" {
		return 0, false, nil
	}
	after, err = strconv.ParseInt(v, 10, 64)
	if err != nil || after < 0 {
		return 0, false, errors.New(name + " must be a message id (a whole number of 0 or more).")
	}
	return after, true, nil
}
