package stream

import (
	"context"
	"time"

	"github.com/chatzilla/chatzilla/hub"
	"github.com/chatzilla/chatzilla/presence"
	"github.com/chatzilla/chatzilla/store"
)

// publisher hands every stored message to every stream. How a message is
// shown depends on the one before it (see views.Message.InLog), so the
// publisher remembers it.
type publisher struct {
	hub    *hub.Hub
	recent *recent
	prev   *store.Message
}

// publish renders m once, frames it once and hands it to every stream. The
// broker calls it for every stored message, in id order, from one
// goroutine. The frame is kept in recent before the hub has it: a stream
// that finds a message missing from recent has subscribed in time to get
// it from the hub (see recent).
func (p *publisher) publish(m store.Message) error {
	frame, err := MessageFrame(p.prev, m)
	// The next message follows on from m, even unshown, as it does in a
	// replay from the store.
	p.prev = &m
	if err != nil {
		p.recent.reset(m.ID)
		return err
	}
	p.recent.add(m.ID, frame)
	p.hub.Publish(hub.Event{ID: m.ID, Frame: frame})
	return nil
}

// publishPresence tells every stream who joined or left.
func publishPresence(h *hub.Hub, c presence.Change, unverified bool) error {
	frame, err := presenceFrame(c, unverified)
	if err != nil {
		return err
	}
	h.Publish(hub.Event{Frame: frame})
	return nil
}

// heartbeatFrame is an SSE comment: browsers ignore it, routers see traffic.
var heartbeatFrame = []byte(": heartbeat\n\n")

// heartbeat sends a comment to every stream at every interval until ctx
// ends, so idle streams are not cut by routers. It is one event for the hub
// to fan out, rather than a timer in every stream.
func heartbeat(ctx context.Context, h *hub.Hub, interval time.Duration) {
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
