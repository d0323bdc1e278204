package stream

import (
	"context"
	"sync"

	"github.com/chatzilla/chatzilla/store"
)

// maxRecent bounds how many messages recent keeps, whatever REPLAY_MAX says.
// A frame is a few hundred bytes (up to about 12 KiB for a message of
// MESSAGE_MAX_LENGTH escaped characters), so the default 2,000 messages take
// about a megabyte and 10,000 at most a few; a longer replay reads the store.
const maxRecent = 10000

// recent is the frames of the last messages published, oldest first, exactly
// as the publisher framed them: a stream that resumes within them is served
// from memory, with no store read, which is what lets a crowd reconnecting
// after a restart cost nothing per stream but the writes.
//
// It holds every published message from the oldest it keeps to the newest,
// with no gap: the publisher adds each message, in id order, before handing
// it to the hub. So a stream that subscribed to the hub before calling since
// gets every message either from since or, published later, from the hub.
type recent struct {
	mu   sync.RWMutex
	size int
	msgs []recentMessage
	// floor is the id of the message before the oldest kept, 0 when the
	// log has nothing before it: every message after floor is kept (or
	// not yet published).
	floor int64
	// last is the id of the newest message kept, floor when none is.
	last   int64
	loaded bool // false until load: since then serves nothing
}

type recentMessage struct {
	id    int64
	room  int64
	frame []byte
}

// newRecent keeps size messages; with size 0 or less, none, but it still
// knows the newest published (see since).
func newRecent(size int) *recent {
	return &recent{size: max(0, min(size, maxRecent))}
}

// load fills r with the last messages stored up to id last, each rendered
// as the publisher renders it (after its predecessor in its room), and
// returns the last message of each room among them, which the next
// published message in that room follows on from. A message whose room's
// predecessor is older than the window is rendered as the first of its
// group, as the publisher does for such a room.
func (r *recent) load(ctx context.Context, h History, last int64) (map[int64]*store.Message, error) {
	// One more than kept: the oldest kept is rendered after it (when in
	// the same room).
	ms, err := h.LogBefore(ctx, last+1, r.size+1)
	if err != nil {
		return nil, err
	}
	prev := make(map[int64]*store.Message)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs, r.floor, r.last, r.loaded = nil, 0, 0, true
	if len(ms) > r.size {
		first := &ms[len(ms)-r.size-1]
		prev[first.RoomID], ms = first, ms[len(ms)-r.size:]
		r.floor, r.last = first.ID, first.ID
	}
	for i := range ms {
		m := &ms[i]
		frame, err := MessageFrame(prev[m.RoomID], *m)
		prev[m.RoomID] = m
		if err != nil {
			// Nothing up to it can be served from memory; what
			// follows can.
			r.resetLocked(m.ID)
			continue
		}
		r.addLocked(m.ID, m.RoomID, frame)
	}
	return prev, nil
}

// add keeps the frame of the message just published, dropping the oldest
// beyond the window's size.
func (r *recent) add(id, room int64, frame []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addLocked(id, room, frame)
}

func (r *recent) addLocked(id, room int64, frame []byte) {
	if r.size == 0 {
		r.floor, r.last = id, id
		return
	}
	if len(r.msgs) == r.size {
		r.floor = r.msgs[0].id
		r.msgs[0] = recentMessage{} // let go of the frame
		r.msgs = r.msgs[1:]         // append copies what is left when it grows
	}
	r.msgs = append(r.msgs, recentMessage{id, room, frame})
	r.last = id
}

// reset forgets everything up to id, which could not be framed: a stream
// resuming before it reads the store (and meets the same failure there).
func (r *recent) reset(id int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resetLocked(id)
}

func (r *recent) resetLocked(id int64) {
	clear(r.msgs)
	r.msgs, r.floor, r.last = r.msgs[:0], id, id
}

// since returns the frames of room's messages published after id after, and
// the id of the newest message published in any room (0 before load). ok is
// false when some message after after is no longer kept: the caller reads
// the store.
func (r *recent) since(room, after int64) (frames [][]byte, newest int64, ok bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if !r.loaded || after < r.floor {
		return nil, r.last, false
	}
	// Ids grow: binary search for the first after after.
	lo, hi := 0, len(r.msgs)
	for lo < hi {
		if mid := (lo + hi) / 2; r.msgs[mid].id <= after {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	for _, m := range r.msgs[lo:] {
		if m.room == room {
			frames = append(frames, m.frame)
		}
	}
	return frames, r.last, true
}
