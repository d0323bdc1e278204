package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/stream"
)

// stream is the live message list: it replays what the reader missed, then
// sends each new message as it is published. The checks are HTTP's, done
// here: who is asking, from where, and from which message on. Then the
// connection is handed over to the stream package, which owns it until it
// closes (see stream.Pipeline.Open).
func (s *server) stream(c echo.Context) error {
	me, joined, err := s.member(c)
	if err != nil {
		return err
	}
	if !joined {
		return problem(http.StatusUnauthorized, "Join the chat to see messages.")
	}
	room, err := s.roomOf(c, me)
	if err != nil {
		return err
	}
	after, replay, err := streamStart(c.Request())
	if err != nil {
		return problem(http.StatusBadRequest, err.Error())
	}
	if c.Request().Method == http.MethodHead {
		// What a GET would start with, without opening anything.
		stream.SetHeader(c.Response().Header())
		return c.NoContent(http.StatusOK)
	}
	address := clientKey(c)
	if err := s.admitStream(me.SessionID, address); err != nil {
		return err
	}
	var st *stream.Stream
	st, err = s.Live.Open(c.Response(), stream.Request{
		Email:       me.Email,
		Room:        room.ID,
		Private:     room.Kind != store.RoomOpen,
		After:       after,
		Replay:      replay,
		Reconnected: c.Request().Header.Get("Last-Event-ID") != "",
		Log:         s.Logger.With("sender", me.Email, "ip", c.RealIP()),
		OnClose: func() {
			s.sessionStreams.remove(me.SessionID, st)
			s.streams.release(me.SessionID, address)
		},
	})
	if err != nil {
		// Nothing was written: the stream's place is given back here, as
		// OnClose would have.
		s.streams.release(me.SessionID, address)
	}
	switch {
	case errors.Is(err, stream.ErrClosed):
		return problem(http.StatusServiceUnavailable, "Chatzilla is restarting. Reconnecting…")
	case errors.Is(err, stream.ErrReplayFailed):
		// Nothing was sent yet: a clean refusal, which the browser's
		// reconnect retries, rather than a stream that opens and closes.
		return storeUnavailable(err, "The messages you missed cannot be loaded right now. Reconnecting…")
	case errors.Is(err, stream.ErrNeedsHTTP1):
		s.Logger.Warn("stream refused: the connection cannot be taken over", "proto", c.Request().Proto, "err", err)
		return problem(http.StatusHTTPVersionNotSupported, "The live message stream needs HTTP/1.1.")
	case err != nil:
		return err
	}
	s.sessionStreams.add(me.SessionID, st) // so that leaving ends it
	st.Serve()
	return nil
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
