package stream

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/chatzilla/chatzilla/hub"
	"github.com/chatzilla/chatzilla/presence"
	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/views"
)

// publisher hands every stored message to the streams of its room. How a
// message is shown depends on the one before it in its room (see
// views.Message.InLog), so the publisher remembers each room's last one
// (from the messages recent loaded at start, and those published since): a
// room whose last message is older than that is shown from the next one as
// if nothing came before it.
type publisher struct {
	p      *Pipeline
	recent *recent
	prev   map[int64]*store.Message // by room
}

// publish renders m once, frames it once and hands it to its room's
// streams. The broker calls it for every stored message, in id order, from
// one goroutine. The frame is kept in recent before the hub has it: a
// stream that finds a message missing from recent has subscribed in time to
// get it from the hub (see recent), and a room that has no hub yet gets one
// only when a stream subscribes, after that.
func (pub *publisher) publish(m store.Message) error {
	frame, err := MessageFrame(pub.prev[m.RoomID], m)
	// The next message follows on from m, even unshown, as it does in a
	// replay from the store.
	pub.prev[m.RoomID] = &m
	if err != nil {
		pub.recent.reset(m.ID)
		return err
	}
	pub.recent.add(m.ID, m.RoomID, frame)
	if r := pub.p.existingRoom(m.RoomID); r != nil {
		r.hub.Publish(hub.Event{ID: m.ID, Frame: frame})
	}
	pub.p.readers.message(m)
	return nil
}

// publishPresence tells the streams of every room where someone joined or
// left who did, and who of its members is online now. It also keeps that,
// framed with the names, for the pages that reconnect until the next change
// (see onlineFrame): a crowd reconnecting after a restart must not cost a
// names read each.
func (p *Pipeline) publishPresence(c presence.Change) error {
	sets := changeSets{online: presence.Set(c.Online), joined: presence.Set(c.Joined), left: presence.Set(c.Left)}
	var touched []*room
	var changes []presence.Change
	var everyone []string
	for _, r := range p.allRooms() {
		if !r.touchedBy(sets) {
			continue
		}
		in := presence.Change{
			Online: r.filter(c.Online, sets.online),
			Joined: r.filter(c.Joined, sets.joined),
			Left:   r.filter(c.Left, sets.left),
		}
		touched, changes = append(touched, r), append(changes, in)
		everyone = append(everyone, shown(in.Online)...)
	}
	slices.Sort(everyone)
	names := p.readNames(slices.Compact(everyone))
	var failed error
	for i, r := range touched {
		frame, panel, err := presenceFrames(changes[i], names, p.unverified)
		r.framing.Lock()
		if err != nil {
			r.online.Store(nil) // framed afresh for the next page (see onlineFrame)
			failed = cmp.Or(failed, err)
		} else {
			r.online.Store(&panel)
			r.hub.Publish(hub.Event{Frame: frame})
		}
		r.framing.Unlock()
	}
	return failed
}

// changeSets are a presence change's lists as sets.
type changeSets struct{ online, joined, left map[string]bool }

// touchedBy reports whether someone in r joined or left.
func (r *room) touchedBy(c changeSets) bool {
	m := r.members.Load()
	if m == nil {
		return len(c.joined)+len(c.left) > 0
	}
	for _, set := range []map[string]bool{c.joined, c.left} {
		if len(set) < len(*m) {
			for e := range set {
				if (*m)[e] {
					return true
				}
			}
			continue
		}
		for e := range *m {
			if set[e] {
				return true
			}
		}
	}
	return false
}

// roomPresence frames who of r's members is online now, keeps it for
// reconnecting pages and sends it to the room's streams: after the room's
// members changed. It reads who is online under r.framing, as a presence
// change stores and sends its frame, so that of the two the newer lands
// last.
func (p *Pipeline) roomPresence(r *room) error {
	r.framing.Lock()
	defer r.framing.Unlock()
	frame, _, err := p.framedNow(r)
	if err != nil {
		return err
	}
	r.hub.Publish(hub.Event{Frame: frame})
	return nil
}

// framedNow frames who of r's members is online, as the roster has it now,
// and keeps the panel for reconnecting pages. It must be called with
// r.framing held.
func (p *Pipeline) framedNow(r *room) (frame, panel []byte, err error) {
	in := presence.Change{Online: r.filter(p.roster.Online(), nil)}
	frame, panel, err = presenceFrames(in, p.readNames(shown(in.Online)), p.unverified)
	if err != nil {
		return nil, nil, err
	}
	r.online.Store(&panel)
	return frame, panel, nil
}

// filter is who of emails (sorted, and as a set, or nil to make it only if
// needed) is in r, sorted: all of them for general. It walks the shorter
// of the list and the room's members, so that a crowd online costs a small
// room only its members.
func (r *room) filter(emails []string, set map[string]bool) []string {
	m := r.members.Load()
	if m == nil {
		return emails
	}
	var in []string
	if len(*m) < len(emails) {
		if set == nil {
			set = presence.Set(emails)
		}
		for e := range *m {
			if set[e] {
				in = append(in, e)
			}
		}
		slices.Sort(in)
		return in
	}
	for _, e := range emails {
		if (*m)[e] {
			in = append(in, e)
		}
	}
	return in
}

// shown is the part of a sorted list of people the panel lists.
func shown(online []string) []string { return online[:min(len(online), views.MaxPeopleShown)] }

// onlineFrame is who of r's members is online, for a page that
// reconnected: as of the last change, with names, or, before any change, as
// the roster has it now, which is then kept for the next page until a
// change replaces it. (After a restart no change may come for a while,
// since the people coming back were online all along: a crowd must not
// cost a names read and a walk of everyone online each.)
func (p *Pipeline) onlineFrame(r *room) ([]byte, error) {
	if f := r.online.Load(); f != nil {
		return *f, nil
	}
	// One page frames it; the others arriving meanwhile wait for it.
	r.framing.Lock()
	defer r.framing.Unlock()
	if f := r.online.Load(); f != nil {
		return *f, nil
	}
	_, panel, err := p.framedNow(r)
	return panel, err
}

// readNames are the display names of the people some panel lists. Without
// them (the store is slow or down) it shows addresses: the list matters
// more than the names.
func (p *Pipeline) readNames(emails []string) map[string]string {
	var names map[string]string
	if p.names != nil && len(emails) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), namesTimeout)
		var err error
		if names, err = p.names(ctx, emails); err != nil {
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

// beat sends a comment to every stream at every interval until ctx
// ends, so idle streams are not cut by routers. It is one event for each
// room's hub to fan out, rather than a timer in every stream.
func (p *Pipeline) beat(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.retireIdle()
			for _, r := range p.allRooms() {
				r.hub.Publish(hub.Event{Frame: heartbeatFrame})
			}
		}
	}
}
