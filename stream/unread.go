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
	// that a crowd reconnecting after a restart does not put thousands of
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
	names func(ctx context.Context, emails []string) (map[string]string, error)
	// private: direct conversations exist (SIGN_IN=email).
	private bool
	log     *slog.Logger
	wake    chan struct{} // a token when pending gains a reader

	mu     sync.Mutex
	people map[string]*reader
	byRoom map[int64]map[*reader]bool
	dirty  map[*reader]bool // readers with counts to send
	// pending are the readers whose rooms must be read (again).
	pending map[*reader]bool
}

// reader is one person's streams here and their unread counts.
type reader struct {
	email   string
	streams map[*Stream]bool
	counts  map[int64]int  // by room; nil until read
	changed map[int64]bool // rooms whose count the streams have not been sent
	loads   int            // reads started, so an older one cannot overwrite a newer
	// rooms are the reader's rooms as last read, for the lists in their
	// sidebar; lists says those changed (a room joined, left or opened
	// with them) and the streams have not been sent them.
	rooms []views.RoomLink
	lists bool
}

func newReaders(c Config) *readers {
	return &readers{
		rooms: c.Rooms, names: c.Names, private: !c.Unverified, log: c.Logger,
		wake:    make(chan struct{}, 1),
		pending: map[*reader]bool{},
		people:  map[string]*reader{},
		byRoom:  map[int64]map[*reader]bool{},
		dirty:   map[*reader]bool{},
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
	delete(rs.pending, r)
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
	rs.pending[r] = true
	rs.mu.Unlock()
	select {
	case rs.wake <- struct{}{}:
	default:
	}
}

// load reads the rooms of pending readers, one at a time, until ctx ends.
// maxRoomsReads of them run, so that a crowd reconnecting after a restart
// waits in a set (once each) rather than in a goroutine each.
func (rs *readers) load(ctx context.Context) {
	for {
		rs.mu.Lock()
		var r *reader
		for p := range rs.pending {
			r = p
			break
		}
		delete(rs.pending, r)
		more := len(rs.pending) > 0
		var load int
		if r != nil {
			load = r.loads
		}
		rs.mu.Unlock()
		if more {
			select { // another loader may take the next
			case rs.wake <- struct{}{}:
			default:
			}
		}
		if r == nil {
			select {
			case <-ctx.Done():
				return
			case <-rs.wake:
			}
			continue
		}
		rs.read(ctx, r, load)
	}
}

// read reads r's rooms and counts, and keeps them unless r left or a newer
// read was asked for meanwhile.
func (rs *readers) read(ctx context.Context, r *reader, load int) {
	ctx, cancel := context.WithTimeout(ctx, roomsTimeout)
	defer cancel()
	states, err := rs.rooms(ctx, r.email)
	if err != nil {
		rs.log.Warn("reading someone's rooms for their unread counts", "err", err)
		return
	}
	links := rs.links(ctx, states)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.people[r.email] != r || r.loads != load {
		return // they left, or a newer read is under way
	}
	if r.counts != nil && !sameRooms(r.counts, states) {
		r.lists = true
	}
	r.rooms = links
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
}

// links are the reader's rooms as their sidebar lists them, with the names
// of the people their direct conversations are with (addresses, if the
// names cannot be read).
func (rs *readers) links(ctx context.Context, states []store.RoomState) []views.RoomLink {
	var others []string
	for _, s := range states {
		if s.Other != "" {
			others = append(others, s.Other)
		}
	}
	var names map[string]string
	if rs.names != nil && len(others) > 0 {
		var err error
		if names, err = rs.names(ctx, others); err != nil {
			rs.log.Warn("reading names for someone's direct conversations", "err", err)
		}
	}
	links := make([]views.RoomLink, len(states))
	for i, s := range states {
		links[i] = views.RoomLink{ID: s.ID, Slug: s.Slug, Name: s.Name, Kind: string(s.Kind), Other: s.Other, OtherName: names[s.Other]}
	}
	return links
}

// sameRooms reports whether states are the rooms counts has.
func sameRooms(counts map[int64]int, states []store.RoomState) bool {
	if len(counts) != len(states) {
		return false
	}
	for _, s := range states {
		if _, ok := counts[s.ID]; !ok {
			return false
		}
	}
	return true
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

// run reads the rooms of readers as they come, and sends the changed counts
// every sidebarTick, until ctx ends.
func (rs *readers) run(ctx context.Context) {
	if rs.rooms == nil {
		return
	}
	var loaders sync.WaitGroup
	for range maxRoomsReads {
		loaders.Go(func() { rs.load(ctx) })
	}
	defer loaders.Wait()
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
			if r.lists {
				frame, err := rs.listsFrame(r, st.room.id)
				if err != nil {
					rs.log.Error("rendering someone's rooms", "err", err)
					continue
				}
				out = append(out, badgeSend{st, frame})
				continue
			}
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
		r.lists = false
	}
	clear(rs.dirty)
	rs.mu.Unlock()
	for _, b := range out {
		b.st.room.hub.Send(b.st.sub, &hub.Event{Frame: b.frame})
	}
}

// listsFrame is r's lists of rooms, with their counts, as the stream of the
// page showing room current replaces them. Must be called with mu held.
func (rs *readers) listsFrame(r *reader, current int64) ([]byte, error) {
	links := make([]views.RoomLink, len(r.rooms))
	for i, l := range r.rooms {
		if l.ID != current {
			l.Unread = r.counts[l.ID]
		}
		links[i] = l
	}
	c := views.Chat{Room: views.RoomLink{ID: current}, Sidebar: views.Sidebar{Rooms: links, Private: rs.private}}
	var html bytes.Buffer
	if err := views.RoomLists(c).Render(context.Background(), &html); err != nil {
		return nil, err
	}
	return encodeEvent(0, html.Bytes()), nil
}
