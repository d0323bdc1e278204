package stream

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/chatzilla/chatzilla/hub"
	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/views"
)

const (
	// sidebarTick is how often changed unread counts are sent: a busy room
	// costs each reader elsewhere at most one update per tick, however
	// many messages it gets.
	sidebarTick = 500 * time.Millisecond
	// roomsTimeout bounds the read of one person's rooms.
	roomsTimeout = 5 * time.Second
	// maxRoomsReads bounds the reads of people's rooms running at once, so
	// that a crowd reconnecting after a restart does not queue thousands of
	// them in front of posts: their sidebars update a little later.
	maxRoomsReads = 4
)

// readers keeps, for the people with a stream open on this instance, which
// rooms they are in and how many messages in each they have not read, so
// that a message in one room updates the sidebar of its members reading
// another. It is indexed by room, so a message costs its room's readers, not
// every stream.
//
// Counts start from the store (RoomsOf, read when a person's first stream
// opens here, and again by Reload after they read a room, join or leave
// one) and then grow with each message published here, which every
// instance sees. A read on another instance is picked up at this one's next
// Reload of that person or their next page load.
type readers struct {
	rooms func(ctx context.Context, email string) ([]store.RoomState, error)
	log   *slog.Logger
	reads chan struct{} // a token per read of someone's rooms running

	mu     sync.Mutex
	people map[string]*reader
	byRoom map[int64]map[*reader]bool
	dirty  map[*reader]bool // readers with counts to send
}

// reader is one person's streams here and their unread counts.
type reader struct {
	email   string
	streams map[*Stream]bool
	counts  map[int64]int  // by room; nil until read
	changed map[int64]bool // rooms whose count the streams have not been sent
	loads   int            // reads started, so an older one cannot overwrite a newer
}

func newReaders(rooms func(ctx context.Context, email string) ([]store.RoomState, error), log *slog.Logger) *readers {
	return &readers{
		rooms: rooms, log: log,
		reads:  make(chan struct{}, maxRoomsReads),
		people: map[string]*reader{},
		byRoom: map[int64]map[*reader]bool{},
		dirty:  map[*reader]bool{},
	}
}

// add counts st among its reader's streams, reading their rooms if it is
// their first stream here.
func (rs *readers) add(st *Stream) {
	if rs.rooms == nil {
		return
	}
	rs.mu.Lock()
	r := rs.people[st.req.Email]
	first := r == nil
	if first {
		r = &reader{email: st.req.Email, streams: map[*Stream]bool{}, changed: map[int64]bool{}}
		rs.people[r.email] = r
	}
	r.streams[st] = true
	rs.mu.Unlock()
	if first {
		rs.reload(r)
	}
}

// remove forgets st, and its reader with their last stream.
func (rs *readers) remove(st *Stream) {
	if rs.rooms == nil {
		return
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r := rs.people[st.req.Email]
	if r == nil {
		return
	}
	delete(r.streams, st)
	if len(r.streams) > 0 {
		return
	}
	delete(rs.people, r.email)
	delete(rs.dirty, r)
	rs.unindex(r)
}

// unindex must be called with mu held.
func (rs *readers) unindex(r *reader) {
	for id := range r.counts {
		if set := rs.byRoom[id]; set != nil {
			delete(set, r)
			if len(set) == 0 {
				delete(rs.byRoom, id)
			}
		}
	}
}

// Reload reads email's rooms and unread counts again, if they have a stream
// here, and sends them to every one of their streams: after they read a
// room, joined or left one. It returns at once.
func (rs *readers) Reload(email string) {
	if rs.rooms == nil {
		return
	}
	rs.mu.Lock()
	r := rs.people[email]
	rs.mu.Unlock()
	if r != nil {
		rs.reload(r)
	}
}

func (rs *readers) reload(r *reader) {
	rs.mu.Lock()
	r.loads++
	load := r.loads
	rs.mu.Unlock()
	go func() {
		rs.reads <- struct{}{}
		defer func() { <-rs.reads }()
		ctx, cancel := context.WithTimeout(context.Background(), roomsTimeout)
		defer cancel()
		states, err := rs.rooms(ctx, r.email)
		if err != nil {
			rs.log.Warn("reading someone's rooms for their unread counts", "err", err)
			return
		}
		rs.mu.Lock()
		defer rs.mu.Unlock()
		if rs.people[r.email] != r || r.loads != load {
			return // they left, or a newer read is under way
		}
		rs.unindex(r)
		r.counts = make(map[int64]int, len(states))
		for _, s := range states {
			r.counts[s.ID] = s.Unread
			r.changed[s.ID] = true
			set := rs.byRoom[s.ID]
			if set == nil {
				set = map[*reader]bool{}
				rs.byRoom[s.ID] = set
			}
			set[r] = true
		}
		rs.dirty[r] = true
	}()
}

// message counts m as unread for its room's readers, but its sender.
func (rs *readers) message(m store.Message) {
	if rs.rooms == nil {
		return
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for r := range rs.byRoom[m.RoomID] {
		if r.email == m.Sender {
			continue
		}
		r.counts[m.RoomID] = min(r.counts[m.RoomID]+1, store.MaxUnread)
		r.changed[m.RoomID] = true
		rs.dirty[r] = true
	}
}

// run sends the changed counts every sidebarTick until ctx ends.
func (rs *readers) run(ctx context.Context) {
	if rs.rooms == nil {
		return
	}
	t := time.NewTicker(sidebarTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rs.send()
		}
	}
}

// badgeSend is one stream's sidebar update.
type badgeSend struct {
	st    *Stream
	frame []byte
}

// send renders the changed counts of every dirty reader and sends each of
// their streams those of rooms other than its own (the room a page shows
// has no count: it is being read).
func (rs *readers) send() {
	var out []badgeSend
	rs.mu.Lock()
	for r := range rs.dirty {
		for st := range r.streams {
			var links []views.RoomLink
			for id := range r.changed {
				if id != st.room.id {
					links = append(links, views.RoomLink{ID: id, Unread: r.counts[id]})
				}
			}
			if len(links) == 0 {
				continue
			}
			var html bytes.Buffer
			if err := views.UnreadBadges(links).Render(context.Background(), &html); err != nil {
				rs.log.Error("rendering unread counts", "err", err)
				continue
			}
			out = append(out, badgeSend{st, encodeEvent(0, html.Bytes())})
		}
		clear(r.changed)
	}
	clear(rs.dirty)
	rs.mu.Unlock()
	for _, b := range out {
		b.st.room.hub.Send(b.st.sub, &hub.Event{Frame: b.frame})
	}
}
