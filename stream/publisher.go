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
	hub  *hub.Hub
	prev *store.Message
}

// publish renders m once, frames it once and hands it to every stream. The
// broker calls it for every stored message, in id order, from one
// goroutine.
func (p *publisher) publish(m store.Message) error {
	frame, err := MessageFrame(p.prev, m)
	if err != nil {
		return err
	}
	p.prev = &m
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
