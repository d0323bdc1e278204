package stream

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatzilla/chatzilla/hub"
	"github.com/chatzilla/chatzilla/store"
)

// room is one room's live state on this instance: the hub its streams
// subscribe to, so that a message costs only its own room's streams, and
// its members, for its "who's online". A room gets a hub when its first
// stream opens here and keeps it (a hub with no subscribers costs a parked
// goroutine and a few hundred bytes).
type room struct {
	id  int64
	hub *hub.Hub
	// members is who is in the room, for its presence; nil for general,
	// which everyone is in.
	members atomic.Pointer[map[string]bool]
	// online is who of its members is online, framed, as of the last
	// change, for pages that reconnect (see onlineFrame).
	online atomic.Pointer[[]byte]
	// framing orders the framings of online: a page's afresh, a presence
	// change's, the members' (see roomPresence).
	framing sync.Mutex
	// private: only members may read it (a private or direct room), so
	// a stream of someone no longer a member is ended.
	private bool
	// reading and again coalesce MembersChanged: one read of the members
	// at a time, and one more if asked meanwhile.
	reading, again atomic.Bool
	// idle counts the heartbeats the room has had no stream here (see
	// retireIdle); only the heartbeat's goroutine uses it.
	idle int

	mu      sync.Mutex
	streams map[*Stream]struct{} // open here
}

// membersTimeout bounds the read of a room's members.
const membersTimeout = 5 * time.Second

// roomOf is the room's live state, made when its first stream opens here.
func (p *Pipeline) roomOf(id int64, private bool) (*room, error) {
	p.roomsMu.RLock()
	r, closed := p.rooms[id], p.closed
	p.roomsMu.RUnlock()
	if r != nil {
		return r, nil
	}
	if closed {
		return nil, ErrClosed
	}
	members := p.readMembers(id)
	p.roomsMu.Lock()
	defer p.roomsMu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if r := p.rooms[id]; r != nil {
		return r, nil
	}
	r = &room{id: id, hub: hub.New(), private: private, streams: map[*Stream]struct{}{}}
	if id != store.GeneralID {
		r.members.Store(&members)
	}
	p.rooms[id] = r
	return r, nil
}

// subscribe subscribes to the room's hub, making it if need be. A hub
// retired meanwhile (see retireIdle) is replaced by a new one.
func (p *Pipeline) subscribe(id int64, private bool) (*room, *hub.Subscriber, error) {
	for {
		r, err := p.roomOf(id, private)
		if err != nil {
			return nil, nil, err
		}
		sub, err := r.hub.Subscribe()
		if errors.Is(err, hub.ErrClosed) {
			p.roomsMu.RLock()
			closed := p.closed
			p.roomsMu.RUnlock()
			if closed {
				return nil, nil, ErrClosed
			}
			continue // retired under us: the next roomOf makes a new one
		}
		return r, sub, err
	}
}

// idleBeats is how many heartbeats a room may go without a stream here
// before its hub is retired: a room someone leaves for another a moment
// keeps its hub (and its members read), one nobody reads any more does not
// cost a goroutine and a place in every heartbeat and presence change for
// the life of the process.
const idleBeats = 4

// retireIdle retires the hubs of rooms with no stream here for idleBeats
// heartbeats (general's never). It runs on the heartbeat's goroutine. A
// message published to a retired hub reaches no one, and needs to: it had
// no subscribers, and a stream that subscribes to the room's next hub
// replays it from recent, where the publisher put it first.
func (p *Pipeline) retireIdle() {
	for _, r := range p.allRooms() {
		if r.id == store.GeneralID {
			continue
		}
		if r.hub.Subscribers() > 0 {
			r.idle = 0
			continue
		}
		if r.idle++; r.idle < idleBeats {
			continue
		}
		p.roomsMu.Lock()
		retire := p.rooms[r.id] == r && !p.closed && r.hub.Subscribers() == 0
		if retire {
			delete(p.rooms, r.id)
		}
		p.roomsMu.Unlock()
		if retire {
			r.hub.Close()
		}
	}
}

// readMembers reads a room's members, for its presence. Without them (the
// store failed) the room shows no one online until MembersChanged reads
// them again: its stream still works.
func (p *Pipeline) readMembers(id int64) map[string]bool {
	members := map[string]bool{}
	if id == store.GeneralID || p.members == nil {
		return members
	}
	ctx, cancel := context.WithTimeout(context.Background(), membersTimeout)
	defer cancel()
	list, err := p.members(ctx, id)
	if err != nil {
		p.log.Warn("reading a room's members for who's online", "room", id, "err", err)
	}
	for _, e := range list {
		members[e] = true
	}
	return members
}

// existingRoom is the room's live state if a stream ever opened in it here.
func (p *Pipeline) existingRoom(id int64) *room {
	p.roomsMu.RLock()
	defer p.roomsMu.RUnlock()
	return p.rooms[id]
}

// allRooms is every room with a hub here, in no particular order.
func (p *Pipeline) allRooms() []*room {
	p.roomsMu.RLock()
	defer p.roomsMu.RUnlock()
	return slices.Collect(maps.Values(p.rooms))
}

// MembersChanged reads the room's members again after someone joined, left
// or was invited, tells its streams who of them is online now, and, in a
// private or direct room, ends the streams of anyone no longer in it. It
// returns at once; the read runs on a goroutine of its own, one per room
// however often it is asked.
func (p *Pipeline) MembersChanged(id int64) {
	r := p.existingRoom(id)
	if r == nil || id == store.GeneralID {
		return
	}
	r.again.Store(true)
	if !r.reading.CompareAndSwap(false, true) {
		return // the running read reads again
	}
	go func() {
		for {
			for r.again.Swap(false) {
				p.rereadMembers(r)
			}
			r.reading.Store(false)
			if !r.again.Load() || !r.reading.CompareAndSwap(false, true) {
				return
			}
		}
	}()
}

// EndedLeftRoom is why a stream ended whose reader is no longer in its
// private room.
const EndedLeftRoom = "no longer in the room"

func (p *Pipeline) rereadMembers(r *room) {
	members := p.readMembers(r.id)
	r.members.Store(&members)
	if r.private {
		for _, st := range r.open() {
			if !members[st.req.Email] {
				st.End(EndedLeftRoom)
			}
		}
	}
	if err := p.roomPresence(r); err != nil {
		p.log.Error("rendering a room's presence", "room", r.id, "err", err)
	}
}

// open is the room's streams open here.
func (r *room) open() []*Stream {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Collect(maps.Keys(r.streams))
}

func (r *room) add(st *Stream) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.streams[st] = struct{}{}
}

func (r *room) remove(st *Stream) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.streams, st)
}
