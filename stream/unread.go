package stream

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
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
	// roomsTimeout bounds one read of people's rooms. A read that fails
	// is tried again after roomsRetry, for those it was for who are still
	// here and not read since.
	roomsTimeout = 5 * time.Second
	roomsRetry   = time.Second
	// maxRoomsReads bounds the reads of people's rooms running at once, so
	// that a crowd reconnecting after a restart does not put thousands of
	// them in front of posts: their sidebars update a little later.
	maxRoomsReads = 2
	// roomsBatch is the most people whose rooms one read reads: the
	// pending wait for a reader, and it takes as many as there are, up to
	// this. One statement for 256 people costs a quarter less a person
	// than one each (SQLite, store's BenchmarkRoomsOf: 36 against 48 µs),
	// and one trip to PostgreSQL, not 256.
	roomsBatch = 256
	// A page that reconnected shows a sidebar already, so the read of its
	// reader's rooms may wait while a crowd is reconnecting (after a
	// restart, everyone): while more than crowdOpens streams opened in the
	// last sidebarTick, for at most maxLate. The reads were a sixth of the
	// new process's work during the storm, which the reconnects needed.
	crowdOpens = 500
	maxLate    = 10 * time.Second
	// maxSeen bounds the messages noted while reads of rooms are under way
	// (readers.seen); past it the older half is forgotten, and a read that
	// began before them reads again (once the crowd, if any, has passed) if
	// one of them could be past what it counted.
	maxSeen = 4096
)

// readers keeps, for the people with a stream open on this instance, which
// rooms they are in and how many messages in each they have not read, so
// that a message in one room updates the sidebar of its members reading
// another. It is indexed by room, and a reader is in a room's index only
// while they are a member of it and have a stream open in another room: a
// message costs the readers whose sidebar shows its room, not every stream
// (in a room everyone reads, such as general, usually no one).
//
// Counts start from the store (RoomsOf, read when a person's first stream
// opens here or one opens in a room they had none in, and again after they
// read a room, join or leave one: see Pipeline.Announce) and then grow with
// each message published here, which every instance sees. The read says
// each room's newest id as it counted: a message published while it runs
// is added if it came after (the read missed it), and one published after
// it is not if it came before (the read counted it).
type readers struct {
	rooms func(ctx context.Context, emails []string) (map[string][]store.RoomState, error)
	names func(ctx context.Context, emails []string) (map[string]string, error)
	// private: direct conversations exist (SIGN_IN=email).
	private bool
	log     *slog.Logger
	wake    chan struct{} // a token when pending gains a reader

	mu     sync.Mutex
	people map[string]*reader
	byRoom map[int64]map[*reader]struct{}
	dirty  map[*reader]struct{} // readers with counts to send
	// loading are the readers whose rooms are being read, with how many
	// reads. While any are, every message published is noted in seen, for
	// the reads to count what they missed (see keep): once, whatever the
	// number of readers a crowd's reads are for.
	loading map[*reader]int
	// seen are those messages, oldest first. seenBefore is how many were
	// noted before seen[0], so that a read remembers where it began as a
	// number (readerLoad.from); forgotten is the newest id of those
	// forgotten past maxSeen. All go once no read is under way.
	seen       []seenMessage
	seenBefore int
	forgotten  int64
	// pending are the readers whose rooms must be read (again), and now
	// the order they came in (a reader no longer pending is passed over).
	// Taking any key of a map that has had thousands deleted walks its
	// emptied slots: after a restart it was a scan per load.
	pending map[*reader]struct{}
	now     []*reader
	// later are the readers of pages that reconnected: read after queue,
	// and only once the crowd has passed (see crowdOpens).
	later   []*reader
	opens   atomic.Int64 // streams opened since the last tick
	crowded atomic.Bool  // more than crowdOpens opened in the last tick
}

// reader is one person's streams here and their unread counts. Most people
// have one or two streams and a few rooms: slices, not maps, keep a reader
// small.
type reader struct {
	email   string
	streams []*Stream
	counts  []roomCount // nil until read
	loads   int         // reads started, so an older one cannot overwrite a newer
	queued  time.Time   // when it became pending
	// rooms are the reader's rooms, for the lists in their sidebar, kept
	// only when those changed (a room joined, left or opened with them)
	// and the streams have not been sent them.
	rooms []views.RoomLink
}

// roomCount is one of a reader's rooms: how many of its messages they have
// not read, and whether their streams have not been sent that.
type roomCount struct {
	room    int64
	n       int
	upTo    int64 // the newest id the count includes: later messages add to it
	changed bool
}

// seenMessage is a message published while someone's rooms were read.
type seenMessage struct {
	room, id int64
	sender   string
}

func newReaders(c Config) *readers {
	return &readers{
		rooms: c.Rooms, names: c.Names, private: !c.Unverified, log: c.Logger,
		wake:    make(chan struct{}, 1),
		pending: map[*reader]struct{}{},
		people:  map[string]*reader{},
		byRoom:  map[int64]map[*reader]struct{}{},
		dirty:   map[*reader]struct{}{},
		loading: map[*reader]int{},
	}
}

// watches reports whether r has a stream in room.
func (r *reader) watches(room int64) bool {
	for _, st := range r.streams {
		if st.room.id == room {
			return true
		}
	}
	return false
}

// elsewhere reports whether r has a stream in a room other than room: one
// whose sidebar shows room's count.
func (r *reader) elsewhere(room int64) bool {
	for _, st := range r.streams {
		if st.room.id != room {
			return true
		}
	}
	return false
}

// add counts st among its reader's streams. Their rooms are read if it is
// their first stream here, or the first in its room: counts are kept only
// for rooms some stream of theirs shows in its sidebar.
func (rs *readers) add(st *Stream) {
	if rs.rooms == nil {
		return
	}
	rs.mu.Lock()
	r := rs.people[st.req.Email]
	if r == nil {
		r = &reader{email: st.req.Email}
		rs.people[r.email] = r
	}
	read := !r.watches(st.room.id)
	r.streams = append(r.streams, st)
	rs.index(r)
	rs.mu.Unlock()
	rs.opens.Add(1)
	if read {
		rs.queue(r, st.req.Reconnected)
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
	if i := slices.Index(r.streams, st); i >= 0 {
		r.streams = slices.Delete(r.streams, i, i+1)
	}
	if len(r.streams) > 0 {
		rs.index(r)
		return
	}
	delete(rs.people, r.email)
	delete(rs.dirty, r)
	delete(rs.pending, r)
	rs.unindex(r)
}

// index puts r in the index of each of their rooms that a stream of theirs
// shows in its sidebar, and takes them out of the others. Must be called
// with mu held.
func (rs *readers) index(r *reader) {
	for _, c := range r.counts {
		set := rs.byRoom[c.room]
		if !r.elsewhere(c.room) {
			if set != nil {
				delete(set, r)
				if len(set) == 0 {
					delete(rs.byRoom, c.room)
				}
			}
			continue
		}
		if set == nil {
			set = map[*reader]struct{}{}
			rs.byRoom[c.room] = set
		}
		set[r] = struct{}{}
	}
}

// unindex takes r out of every room's index. Must be called with mu held.
func (rs *readers) unindex(r *reader) {
	for _, c := range r.counts {
		if set := rs.byRoom[c.room]; set != nil {
			delete(set, r)
			if len(set) == 0 {
				delete(rs.byRoom, c.room)
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

func (rs *readers) reload(r *reader) { rs.queue(r, false) }

// queue makes r pending, in later if late (its page shows a sidebar
// already) and it is not pending yet.
func (rs *readers) queue(r *reader, late bool) {
	rs.mu.Lock()
	r.loads++
	if _, queued := rs.pending[r]; !queued {
		rs.pending[r] = struct{}{}
		r.queued = time.Now()
		if late {
			rs.later = append(rs.later, r)
		} else {
			rs.now = append(rs.now, r)
		}
	}
	rs.mu.Unlock()
	select {
	case rs.wake <- struct{}{}:
	default:
	}
}

// load reads the rooms of pending readers, up to roomsBatch at a time,
// until ctx ends. maxRoomsReads of them run, so that a crowd reconnecting
// after a restart waits in a set (once each) rather than in a goroutine
// each, and is read in a few statements.
func (rs *readers) load(ctx context.Context) {
	for {
		rs.mu.Lock()
		var by time.Time // any of later, once the crowd has passed
		if rs.crowded.Load() {
			by = time.Now().Add(-maxLate)
		}
		var batch []readerLoad
		for len(batch) < roomsBatch {
			r := rs.take(&rs.now, time.Time{})
			if r == nil {
				r = rs.take(&rs.later, by)
			}
			if r == nil {
				break
			}
			delete(rs.pending, r)
			batch = append(batch, readerLoad{r: r, load: r.loads})
		}
		more := len(rs.now) > 0 || len(rs.later) > 0 && !rs.crowded.Load()
		rs.mu.Unlock()
		if more {
			select { // another loader may take the next
			case rs.wake <- struct{}{}:
			default:
			}
		}
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-rs.wake:
			}
			continue
		}
		rs.read(ctx, batch)
	}
}

// readerLoad is a reader whose rooms are read, which of their reads
// (reader.loads) it is, and where in the messages noted it began (see
// readers.seen).
type readerLoad struct {
	r    *reader
	load int
	from int
}

// take takes the first reader of q still pending, if it became pending
// before by (any, for a zero by); nil if there is none. Called with mu
// held.
func (rs *readers) take(q *[]*reader, by time.Time) *reader {
	for len(*q) > 0 {
		next := (*q)[0]
		if _, ok := rs.pending[next]; !ok {
			(*q)[0], *q = nil, (*q)[1:] // left, or read since: passed over
			continue
		}
		if !by.IsZero() && next.queued.After(by) {
			return nil
		}
		(*q)[0], *q = nil, (*q)[1:]
		if len(*q) == 0 {
			*q = nil // let the backing array go
		}
		return next
	}
	*q = nil
	return nil
}

// read reads the rooms and counts of the batch's readers, in one read, and
// keeps each one's (see keep). If the read fails, it is tried again later.
func (rs *readers) read(ctx context.Context, batch []readerLoad) {
	readCtx, cancel := context.WithTimeout(ctx, roomsTimeout)
	defer cancel()
	emails := make([]string, len(batch))
	rs.mu.Lock()
	for i := range batch {
		rs.loading[batch[i].r]++
		batch[i].from = rs.seenBefore + len(rs.seen)
		emails[i] = batch[i].r.email
	}
	rs.mu.Unlock()
	states, err := rs.rooms(readCtx, emails)
	if err != nil {
		rs.mu.Lock()
		for _, b := range batch {
			rs.loaded(b.r)
		}
		rs.mu.Unlock()
		rs.log.Warn("reading people's rooms for their unread counts", "people", len(emails), "err", err)
		if ctx.Err() == nil {
			time.AfterFunc(roomsRetry, func() { rs.retry(batch) })
		}
		return
	}
	for _, b := range batch {
		rs.keep(readCtx, b, states[b.r.email])
		rs.mu.Lock()
		rs.loaded(b.r)
		rs.mu.Unlock()
	}
}

// loaded notes that one read of r's rooms has ended, and forgets the
// messages noted once no read needs them. Must be called with mu held.
func (rs *readers) loaded(r *reader) {
	if rs.loading[r]--; rs.loading[r] <= 0 {
		delete(rs.loading, r)
	}
	if len(rs.loading) == 0 {
		rs.seenBefore += len(rs.seen)
		rs.seen, rs.forgotten = nil, 0
	}
}

// retry queues again those of a failed read's readers who are still here
// and whose rooms no read was asked for since (that one reads them).
func (rs *readers) retry(batch []readerLoad) {
	for _, b := range batch {
		rs.mu.Lock()
		again := rs.people[b.r.email] == b.r && b.r.loads == b.load
		rs.mu.Unlock()
		if again {
			rs.queue(b.r, true)
		}
	}
}

// keep makes states b's reader's rooms and counts, unless they left or a
// newer read was asked for meanwhile (b's load is not their latest).
func (rs *readers) keep(ctx context.Context, b readerLoad, states []store.RoomState) {
	r := b.r
	if !rs.private {
		// SIGN_IN=open: anyone may be anyone, so the rooms only verified
		// people have are not shown (see handlers.chatView).
		states = slices.DeleteFunc(states, func(s store.RoomState) bool { return s.Kind != store.RoomOpen })
	}
	rs.mu.Lock()
	fresh := r.counts == nil
	changed := !fresh && !sameRooms(r.counts, states)
	rs.mu.Unlock()
	var links []views.RoomLink
	if changed {
		links = rs.links(ctx, states)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.people[r.email] != r || r.loads != b.load {
		return // they left, or a newer read is under way
	}
	if changed {
		r.rooms = links
	}
	rs.unindex(r)
	r.counts = make([]roomCount, len(states))
	seen := rs.seen[max(b.from-rs.seenBefore, 0):] // published since the read began
	var newest int64
	for i, s := range states {
		newest = max(newest, s.Newest)
		n := s.Unread
		for _, m := range seen {
			if m.room == s.ID && m.id > s.Newest && m.sender != r.email {
				n++ // published while the read ran, and after what it counted
			}
		}
		r.counts[i] = roomCount{room: s.ID, n: min(n, store.MaxUnread), upTo: s.Newest, changed: true}
	}
	rs.index(r)
	rs.dirty[r] = struct{}{}
	// Messages forgotten since the read began that may be past what it
	// counted (ids are committed in order): too much happened meanwhile to
	// tell, so read again.
	if b.from < rs.seenBefore && rs.forgotten > newest {
		rs.mu.Unlock()
		rs.queue(r, true)
		rs.mu.Lock()
	}
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
func sameRooms(counts []roomCount, states []store.RoomState) bool {
	if len(counts) != len(states) {
		return false
	}
	for _, s := range states {
		if !slices.ContainsFunc(counts, func(c roomCount) bool { return c.room == s.ID }) {
			return false
		}
	}
	return true
}

// message counts m as unread for the readers whose sidebar shows its room,
// but its sender.
func (rs *readers) message(m store.Message) {
	if rs.rooms == nil {
		return
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(rs.loading) > 0 {
		if len(rs.seen) == maxSeen {
			half := rs.seen[:maxSeen/2]
			for _, old := range half {
				rs.forgotten = max(rs.forgotten, old.id)
			}
			rs.seenBefore += len(half)
			rs.seen = append(rs.seen[:0], rs.seen[len(half):]...)
		}
		rs.seen = append(rs.seen, seenMessage{room: m.RoomID, id: m.ID, sender: m.Sender})
	}
	for r := range rs.byRoom[m.RoomID] {
		if r.email == m.Sender {
			continue
		}
		for i := range r.counts {
			if c := &r.counts[i]; c.room == m.RoomID && m.ID > c.upTo {
				c.n = min(c.n+1, store.MaxUnread)
				c.changed = true
				rs.dirty[r] = struct{}{}
			}
		}
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
			crowded := rs.opens.Swap(0) > crowdOpens
			rs.crowded.Store(crowded)
			rs.mu.Lock()
			waiting := len(rs.later) > 0
			rs.mu.Unlock()
			if waiting { // now, or once the oldest has waited maxLate
				select {
				case rs.wake <- struct{}{}:
				default:
				}
			}
			rs.send()
		}
	}
}

// sidebarUpdate is what one stream is sent, copied under the lock and
// rendered after it: lists (the reader's rooms changed) or badges.
type sidebarUpdate struct {
	st    *Stream
	links []views.RoomLink
	lists bool
}

// send sends every dirty reader's streams their changed counts but that of
// their own room (the room a page shows has no count: it is being read),
// or, when their rooms changed, the lists. What to send is copied under
// the lock and rendered outside it, so that a crowd of dirty readers (after
// a restart, all of them) does not hold up messages counted meanwhile.
func (rs *readers) send() {
	var updates []sidebarUpdate
	rs.mu.Lock()
	for r := range rs.dirty {
		for _, st := range r.streams {
			u := sidebarUpdate{st: st, lists: r.rooms != nil}
			if u.lists {
				u.links = listLinks(r, st.room.id)
			} else {
				u.links = badgeLinks(r, st.room.id)
			}
			if len(u.links) > 0 || u.lists {
				updates = append(updates, u)
			}
		}
		for i := range r.counts {
			r.counts[i].changed = false
		}
		r.rooms = nil
	}
	clear(rs.dirty)
	rs.mu.Unlock()
	for _, u := range updates {
		frame, err := rs.render(u)
		if err != nil {
			rs.log.Error("rendering someone's sidebar", "err", err)
			continue
		}
		u.st.room.hub.Send(u.st.sub, &hub.Event{Frame: frame})
	}
}

// render frames u.
func (rs *readers) render(u sidebarUpdate) ([]byte, error) {
	var html bytes.Buffer
	var err error
	if u.lists {
		c := views.Chat{Room: views.RoomLink{ID: u.st.room.id}, Sidebar: views.Sidebar{Rooms: u.links, Private: rs.private}}
		err = views.RoomLists(c).Render(context.Background(), &html)
	} else {
		err = views.UnreadBadges(u.links).Render(context.Background(), &html)
	}
	if err != nil {
		return nil, err
	}
	return encodeEvent(0, html.Bytes()), nil
}

// badgeLinks are r's changed counts but current's. Must be called with mu
// held.
func badgeLinks(r *reader, current int64) []views.RoomLink {
	var links []views.RoomLink
	for _, c := range r.counts {
		if c.changed && c.room != current {
			links = append(links, views.RoomLink{ID: c.room, Unread: c.n})
		}
	}
	return links
}

// listLinks are r's rooms with their counts, as the page showing room
// current lists them. Must be called with mu held.
func listLinks(r *reader, current int64) []views.RoomLink {
	links := slices.Clone(r.rooms)
	for i := range links {
		if links[i].ID == current {
			continue
		}
		for _, c := range r.counts {
			if c.room == links[i].ID {
				links[i].Unread = c.n
			}
		}
	}
	return links
}
