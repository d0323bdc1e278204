package stream

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/chatzilla/chatzilla/hub"
	"github.com/chatzilla/chatzilla/presence"
	"github.com/chatzilla/chatzilla/store"
)

// Config is what the live pipeline is built from.
type Config struct {
	Broker  Broker  // brings stored messages from every instance
	History History // what streams replay
	// Directory shares who is online between instances; nil: this
	// instance alone.
	Directory presence.Directory
	// Keeper carries who is online across a restart of an instance without
	// a directory (see presence.Roster.TakeOver); nil: it is not carried.
	Keeper presence.Keeper
	// PresenceGrace is how long someone stays online after their last
	// stream closed (see presence.New).
	PresenceGrace time.Duration
	Logger        *slog.Logger

	// WriteTimeout bounds each write to a stream; 0 means 10 s.
	WriteTimeout time.Duration
	// MaxReplay is the most stored messages a stream replays; a page
	// further behind is told to reload its list instead. 0 means 2000.
	MaxReplay int
	// Recent is how many of the latest messages are kept in memory,
	// framed, so that a stream resuming among them replays without
	// reading the store. 0 means MaxReplay (at most 10,000); negative,
	// none: every replay with anything to send reads the store.
	Recent int
	// Heartbeat is how often idle streams get a comment; 0 means
	// HeartbeatInterval.
	Heartbeat time.Duration
	// Unverified says anyone may join as any address (SIGN_IN=open): the
	// "who's online" panel says so.
	Unverified bool
	// Names, if set, reads display names for the "who's online" panel.
	Names func(ctx context.Context, emails []string) (map[string]string, error)
	// Members, if set, reads who is in a room, for the room's "who's
	// online" (general's is everyone online).
	Members func(ctx context.Context, room int64) ([]string, error)
	// Rooms, if set, reads people's rooms with their unread counts, which
	// their streams then keep up to date in their sidebar: each person's,
	// general at least, by email (store.SQLite's RoomsOfMany).
	Rooms func(ctx context.Context, emails []string) (map[string][]store.RoomState, error)
	// Changes, if set, carries the changes to people's rooms between
	// instances (see Announce); without it they reach this instance alone.
	Changes Changes
}

// Changes carries store.Changes to every instance: store.SQLite and
// store.Postgres.
type Changes interface {
	Announce(ctx context.Context, c store.Change) error
	OnChange(func(store.Change))
}

// Pipeline is the live path of one instance: a hub per room that streams
// subscribe to, the roster of who is online, the unread counts of who is
// reading, and what feeds the hubs (stored messages through the broker,
// presence changes, heartbeats). run and the tests build it with
// NewPipeline and Start alike.
type Pipeline struct {
	roomsMu      sync.RWMutex
	rooms        map[int64]*room // guarded by roomsMu
	closed       bool            // guarded by roomsMu
	readers      *readers
	members      func(ctx context.Context, room int64) ([]string, error)
	changes      Changes
	roster       *presence.Roster
	broker       Broker
	history      History
	recent       *recent            // the latest messages, framed
	reads        singleflight.Group // store reads shared between streams
	log          *slog.Logger
	writeTimeout time.Duration
	maxReplay    int
	heartbeat    time.Duration
	unverified   bool
	names        func(ctx context.Context, emails []string) (map[string]string, error)
	open         atomic.Int64 // streams open
	spread       atomic.Int64 // set by Close: how widely the streams' reconnects are spread, nanoseconds
	// shutMu guards the count of streams ended by Close, which Wait logs
	// in one line rather than one each (see Stream.close); once it has,
	// shutSaid, any that end later are logged one by one.
	shutMu    sync.Mutex
	shutEnded int
	shutSaid  bool
}

// NewPipeline builds the pipeline; Start sets it going.
func NewPipeline(c Config) *Pipeline {
	p := &Pipeline{
		rooms:        map[int64]*room{},
		readers:      newReaders(c),
		members:      c.Members,
		changes:      c.Changes,
		broker:       c.Broker,
		history:      c.History,
		log:          c.Logger,
		writeTimeout: cmp.Or(c.WriteTimeout, defaultWriteTimeout),
		maxReplay:    cmp.Or(c.MaxReplay, defaultMaxReplay),
		recent:       newRecent(cmp.Or(c.Recent, c.MaxReplay, defaultMaxReplay)),
		heartbeat:    cmp.Or(c.Heartbeat, HeartbeatInterval),
		unverified:   c.Unverified,
		names:        c.Names,
	}
	if c.Changes != nil {
		c.Changes.OnChange(p.changed)
	}
	// general's hub exists from the start: Hub returns it.
	p.rooms[store.GeneralID] = &room{id: store.GeneralID, hub: hub.New(), streams: map[*Stream]struct{}{}}
	p.roster = presence.New(c.Directory, c.PresenceGrace, func(ch presence.Change) {
		if err := p.publishPresence(ch); err != nil {
			p.log.Error("publishing presence", "err", err)
		}
	})
	if c.Keeper != nil {
		p.roster.KeepWith(c.Keeper)
	}
	return p
}

// Start reads where the log ends, and the latest messages into memory, so
// that a fresh process replays from memory to the pages reconnecting to it;
// then it starts what feeds the hub: the broker's follower, the roster's
// bookkeeping and the heartbeat. They run until stop, which waits for them;
// streams are ended by Close.
func (p *Pipeline) Start(ctx context.Context) (stop func(), err error) {
	last, err := p.broker.LastID(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the last message id: %w", err)
	}
	// The first new message follows on from the last one stored.
	latest, err := p.recent.load(ctx, p.history, last)
	if err != nil {
		return nil, fmt.Errorf("reading the latest messages: %w", err)
	}
	pub := &publisher{p: p, recent: p.recent, prev: latest}
	// Who the process before had online, so that their pages coming back
	// are not announced as joining. Without it the roster starts empty.
	takeCtx, cancelTake := context.WithTimeout(ctx, takeOverTimeout)
	if err := p.roster.TakeOver(takeCtx); err != nil {
		p.log.Warn("taking over who was online before the restart", "err", err)
	}
	cancelTake()
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var background sync.WaitGroup
	background.Go(func() { p.roster.Run(ctx, p.log) })
	background.Go(func() { p.beat(ctx, p.heartbeat) })
	background.Go(func() { p.readers.run(ctx) })
	background.Go(func() {
		err := p.broker.Follow(ctx, last, func(m store.Message) {
			if err := pub.publish(m); err != nil {
				p.log.Error("publishing message", "id", m.ID, "err", err)
			}
		})
		if err != nil && !errors.Is(err, context.Canceled) {
			p.log.Error("following new messages stopped", "err", err)
		}
	})
	return func() { cancel(); background.Wait() }, nil
}

// Open takes the request's connection over for a stream: after it
// succeeds, the response belongs to the stream, and the caller runs
// Stream.Serve. Subscribing comes first, before any history is read, so
// that anything published while the replay runs waits in the subscription
// instead of falling in between. Then, before answering, it decides what
// to replay and reads the first of it (from memory, or the store): a store
// that fails then is a refusal (ErrReplayFailed), not a stream that answers
// 200 and closes. On an error (ErrClosed, ErrReplayFailed, ErrNeedsHTTP1)
// nothing was written and req.OnClose is not called.
func (p *Pipeline) Open(w http.ResponseWriter, req Request) (*Stream, error) {
	req.Room = cmp.Or(req.Room, store.GeneralID)
	r, sub, err := p.subscribe(req.Room, req.Private)
	if err != nil {
		return nil, err
	}
	var start replayStart
	if req.Replay {
		if start, err = p.startReplay(req.Room, req.After); err != nil {
			r.hub.Unsubscribe(sub)
			return nil, err
		}
	}
	h := head(w.Header())
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		r.hub.Unsubscribe(sub)
		if errors.Is(err, http.ErrNotSupported) {
			return nil, fmt.Errorf("%w: %v", ErrNeedsHTTP1, err)
		}
		return nil, err
	}
	socket := unwrap(conn)
	if d := directWriter(socket); d != nil {
		// While the stream's goroutine waits with nothing queued, the hub
		// may write new events to the socket itself (see
		// hub.Subscriber.Idle), which saves waking the goroutine for every
		// message.
		sub.SetDirect(d)
	}
	p.open.Add(1)
	log := cmp.Or(req.Log, p.log)
	log.Info("stream connected", "room", req.Room, "after", req.After, "replay", req.Replay)
	st := &Stream{p: p, req: req, room: r, conn: conn, w: socket, sub: sub, log: log, head: h, start: start}
	r.add(st)
	p.readers.add(st)
	return st, nil
}

// Hub is general's hub.
func (p *Pipeline) Hub() *hub.Hub { return p.existingRoom(store.GeneralID).hub }

// Announce tells every instance that someone read a room, or joined, left
// or was brought into one: their streams' sidebars are brought up to date,
// and, for a change of members, the room's "who's online". It does not wait
// for that.
func (p *Pipeline) Announce(ctx context.Context, c store.Change) {
	if p.changes != nil {
		err := p.changes.Announce(ctx, c)
		if err == nil {
			return // it comes back to this instance too
		}
		p.log.Warn("announcing a change to other instances", "err", err)
	}
	p.changed(c)
}

// changed brings this instance's streams up to date with c.
func (p *Pipeline) changed(c store.Change) {
	p.readers.Reload(c.Email)
	if c.Members {
		p.MembersChanged(c.Room)
	}
}

// takeOverTimeout bounds the read of who was online before a restart:
// pages wait for it, and would rather see a few "joined" notices.
const takeOverTimeout = 2 * time.Second

// Roster is who is online.
func (p *Pipeline) Roster() *presence.Roster { return p.roster }

// Streams is how many streams are open.
func (p *Pipeline) Streams() int { return int(p.open.Load()) }

// Close ends every stream, once, and refuses new ones. Browsers reconnect,
// to another instance if there is one, and catch up from its memory or the
// store.
//
// Each page is told how long to wait first (the SSE retry field, see
// restartRetry), at random over a spread that grows with the number of
// streams open, so that the next process does not meet them all in the same
// 100 ms.
func (p *Pipeline) Close() {
	p.spread.Store(int64(restartSpread(int(p.open.Load()))))
	p.roomsMu.Lock()
	p.closed = true
	p.roomsMu.Unlock()
	for _, r := range p.allRooms() {
		r.hub.Close()
	}
}

// Wait blocks, after Close, until every stream has ended, or ctx ends.
func (p *Pipeline) Wait(ctx context.Context) error {
	var err error
	for _, r := range p.allRooms() {
		if err = r.hub.Wait(ctx); err != nil {
			break
		}
	}
	p.roomsMu.RLock()
	closed := p.closed
	p.roomsMu.RUnlock()
	p.shutMu.Lock()
	say := closed && !p.shutSaid
	if say {
		p.shutSaid = true
	}
	n := p.shutEnded
	p.shutMu.Unlock()
	switch {
	case !say:
	case err != nil:
		p.log.Warn("streams disconnected", "reason", hub.EndedShutdown, "streams", n, "still_open", p.open.Load())
	default:
		p.log.Info("streams disconnected", "reason", hub.EndedShutdown, "streams", n)
	}
	return err
}

// countShutdownEnd counts a stream the shutdown ended, for Wait's line,
// and reports false once that line is logged (the stream's own is then).
func (p *Pipeline) countShutdownEnd() bool {
	p.shutMu.Lock()
	defer p.shutMu.Unlock()
	if p.shutSaid {
		return false
	}
	p.shutEnded++
	return true
}
