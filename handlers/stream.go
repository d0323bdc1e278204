package handlers

import (
	"cmp"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chatzilla/chatzilla/hub"
	"github.com/chatzilla/chatzilla/presence"
)

const (
	// heartbeatInterval keeps an idle stream from looking dead: Heroku's
	// router closes a connection after 55 s without a byte, and other proxies
	// are often stricter.
	heartbeatInterval = 15 * time.Second
	// defaultWriteTimeout is how long one write to a stream may take. A
	// reader that takes longer has stopped reading; dropping it frees its
	// goroutine and buffers.
	defaultWriteTimeout = 10 * time.Second
	// replayPage is how many stored messages a replay reads at a time.
	replayPage = 500
)

// stream is the live message list: it replays what the reader missed, then
// sends each new message as it is published.
func (s *server) stream(c echo.Context) error {
	me, joined := s.member(c)
	if !joined {
		return problem(http.StatusUnauthorized, "Join the chat to see messages.")
	}
	after, replay, err := streamStart(c.Request())
	if err != nil {
		return problem(http.StatusBadRequest, err.Error())
	}
	if ok, sessionFull := s.streams.acquire(me.SessionID); !ok {
		if sessionFull {
			return problem(http.StatusServiceUnavailable, "Chatzilla is open in too many tabs. Close some and reload.")
		}
		return problem(http.StatusServiceUnavailable, "Chatzilla is full right now. Reconnecting shortly…")
	}
	defer s.streams.release(me.SessionID)

	// Subscribe before reading history, so that anything published while the
	// replay runs waits in the subscription instead of falling in between.
	sub, err := s.Hub.Subscribe()
	if errors.Is(err, hub.ErrClosed) {
		return problem(http.StatusServiceUnavailable, "Chatzilla is restarting. Reconnecting…")
	}
	if err != nil {
		return err
	}
	defer s.Hub.Unsubscribe(sub)
	// Counted as present only once subscribed, so this stream hears of its
	// own arrival like everyone else's.
	exit := s.Presence.Enter(me.Email)
	defer exit(false)

	w := c.Response()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx and friends: do not buffer
	w.WriteHeader(http.StatusOK)

	ctx := c.Request().Context()
	log := s.Logger.With("sender", me.Email, "ip", c.RealIP())
	log.Info("stream connected", "after", after, "replay", replay)
	started := time.Now()
	ended := "client left"
	defer func() {
		log.Info("stream disconnected", "reason", ended, "duration", time.Since(started).Round(time.Millisecond))
	}()

	// Each batch of writes (a replay page, the events queued at one moment,
	// a heartbeat) gets one deadline and one flush: a reader that takes
	// longer than writeTimeout for a batch has stopped reading.
	writeTimeout := cmp.Or(s.StreamWriteTimeout, defaultWriteTimeout)
	arm := func() error { return rc.SetWriteDeadline(time.Now().Add(writeTimeout)) }
	write := func(b []byte) error {
		_, err := w.Write(b)
		return err
	}

	// A first comment, flushed at once, tells the browser (and any proxy)
	// that the stream is open before there is anything to say.
	if arm() != nil || write([]byte(": connected\n\n")) != nil || rc.Flush() != nil {
		return nil
	}

	// A reconnecting page missed presence changes, which are not replayed:
	// send who is online now. (A first connect follows the page load, which
	// showed who was online moments ago.)
	if c.Request().Header.Get("Last-Event-ID") != "" {
		people, err := presenceFrame(presence.Change{Online: s.Presence.Online()})
		if err != nil {
			return err
		}
		if err := write(people); err != nil {
			return nil
		}
	}

	last := after
	for replay {
		if arm() != nil {
			return nil
		}
		page, err := s.Store.MessagesAfter(ctx, last, replayPage)
		if err != nil {
			log.Error("stream replay", "after", last, "err", err)
			ended = "replay failed"
			return nil // the browser reconnects and tries again
		}
		for _, m := range page {
			frame, err := messageFrame(m)
			if err != nil {
				log.Error("rendering message", "id", m.ID, "err", err)
				return nil
			}
			if err := write(frame); err != nil {
				return nil
			}
			last = m.ID
		}
		replay = len(page) == replayPage
		if rc.Flush() != nil {
			return nil
		}
	}

	heartbeat := time.NewTicker(heartbeatInterval)
	defer heartbeat.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-heartbeat.C:
			if arm() != nil || write([]byte(": heartbeat\n\n")) != nil || rc.Flush() != nil {
				return nil
			}
		case e, open := <-sub.Events():
			// Write everything already queued, then flush once.
			if arm() != nil {
				return nil
			}
			for {
				if !open {
					// Dropped for falling behind, or the server is
					// shutting down: end the stream, the browser
					// reconnects with Last-Event-ID.
					ended = "dropped or shutting down"
					_ = rc.Flush()
					return nil
				}
				if e.ID == 0 || e.ID > last {
					if err := write(e.Frame); err != nil {
						return nil
					}
					if e.ID != 0 {
						last = e.ID
					}
				}
				select {
				case e, open = <-sub.Events():
					continue
				default:
				}
				break
			}
			if rc.Flush() != nil {
				return nil
			}
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
