package stream

import (
	"context"
	"time"

	"github.com/chatzilla/chatzilla/hub"
	"github.com/chatzilla/chatzilla/presence"
	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/views"
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

// publishPresence tells every stream who joined or left. It also keeps who
// is online now, framed with the names, for the pages that reconnect until
// the next change (see onlineFrame): a crowd reconnecting after a restart
// must not cost a names read each.
func (p *Pipeline) publishPresence(c presence.Change) error {
	frame, online, err := presenceFrames(c, p.readNames(c.Online), p.unverified)
	if err != nil {
		return err
	}
	p.online.Store(&online)
	p.hub.Publish(hub.Event{Frame: frame})
	return nil
}

// onlineFrame is who is online, for a page that reconnected: as of the last
// change, with names, or, before any change, as the roster has it now.
func (p *Pipeline) onlineFrame() ([]byte, error) {
	if f := p.online.Load(); f != nil {
		return *f, nil
	}
	_, online, err := presenceFrames(presence.Change{Online: p.roster.Online()}, nil, p.unverified)
	return online, err
}

// readNames are the display names of the people the panel lists. Without
// them (the store is slow or down) it shows addresses: the list matters
// more than the names.
func (p *Pipeline) readNames(online []string) map[string]string {
	var names map[string]string
	if p.names != nil {
		shown := online[:min(len(online), views.MaxPeopleShown)]
		ctx, cancel := context.WithTimeout(context.Background(), namesTimeout)
		var err error
		if names, err = p.names(ctx, shown); err != nil {
			p.log.Warn("reading display names for who's online", "err", err)
		}
		cancel()
	}
	return names
}

// namesTimeout bounds the names read for one presence update, which runs on
// the roster's goroutine.
const namesTimeout = time.Second

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
