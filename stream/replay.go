package stream

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/chatzilla/chatzilla/store"
)

const (
	// replayPage is how many stored messages a replay reads, and sends, at
	// a time.
	replayPage = 500
	// replayTimeout bounds one replay read.
	replayTimeout = 10 * time.Second
	// defaultMaxReplay is the most messages a stream replays (see
	// Config.MaxReplay): enough for a page that lost its connection for a
	// while in a busy chat, few enough that a replay costs well under a
	// megabyte, whatever the size of the history.
	defaultMaxReplay = 2000
)

// ErrReplayFailed is returned by Open, before anything was written, when
// the start of what a stream must replay could not be read (the store is
// down, or too slow): the client should try again shortly.
var ErrReplayFailed = errors.New("stream: reading the messages to replay failed")

// History is the stored messages a stream replays: the log (every room),
// whose end the pipeline keeps in memory, and each room's part of it
// (general's too: it is room store.GeneralID like any other).
type History interface {
	// LogBefore is the latest limit messages of every room with id <
	// beforeID, oldest first.
	LogBefore(ctx context.Context, beforeID int64, limit int) ([]store.Message, error)
	RoomMessagesAfter(ctx context.Context, room, afterID int64, limit int) ([]store.Message, error)
	RoomMessagesBefore(ctx context.Context, room, beforeID int64, limit int) ([]store.Message, error)
	// RoomCountAfter counts the room's messages after afterID, up to
	// limit: whether a page is too far behind to replay.
	RoomCountAfter(ctx context.Context, room, afterID int64, limit int) (int, error)
}

// replayStart is what a stream replays, decided (and its first page read)
// by Open before the stream answers, so that a store that cannot be read
// costs a clean refusal rather than a stream that opens and closes.
type replayStart struct {
	// reload: the page is further behind than MaxReplay; it is told to
	// reload its list, and the stream goes on from page.last.
	reload bool
	page   page
}

// page is the frames of consecutive messages, ready to send. Pages come
// from recent or from a store read shared between streams: their frames
// are never modified.
type page struct {
	frames [][]byte
	// last is the id of the last message in frames, or where the page was
	// asked to start when it is empty.
	last int64
	// prev is the message with id last, which the next page follows on
	// from (nil when the page came from memory: no page follows one).
	prev *store.Message
	// more: a full page came from the store; more may follow.
	more bool
}

// queueOnline queues who is online now, for the next write; if that cannot
// be rendered, the stream opens without it.
func (st *Stream) queueOnline() {
	people, err := st.p.onlineFrame(st.room)
	if err != nil {
		// The page keeps the panel it has; the messages matter more.
		st.log.Error("rendering who is online", "err", err)
		return
	}
	st.batch = append(st.batch, people)
}

// replay sends what Open decided the page missed, reading any further pages
// from the store, and returns the id of the last message sent, and why the
// stream must end ("" if it may go on).
func (st *Stream) replay() (last int64, why string) {
	r := st.start
	st.start = replayStart{}
	if !st.req.Replay {
		return st.req.After, ""
	}
	if r.reload {
		st.log.Info("stream too far behind to replay: told to reload", "after", st.req.After, "newest", r.page.last)
		if st.send(reloadFrame) != nil {
			return 0, "write failed"
		}
		return r.page.last, ""
	}
	for pg := r.page; ; {
		for frames := pg.frames; len(frames) > 0; {
			n := min(len(frames), replayPage)
			st.batch = append(st.batch, frames[:n]...)
			frames = frames[n:]
			if st.flush() != nil {
				return 0, "write failed"
			}
		}
		if !pg.more {
			return pg.last, ""
		}
		next, err := st.p.nextPage(st.room.id, pg.last, pg.prev)
		if err != nil {
			st.log.Error("stream replay", "after", pg.last, "err", err)
			return 0, "replay failed" // the browser reconnects and tries again
		}
		pg = next
	}
}

// startReplay decides what a stream resuming after id after in room
// replays, and reads the first page of it. The caller has subscribed to the
// room's hub.
func (p *Pipeline) startReplay(room, after int64) (replayStart, error) {
	frames, published, inMemory := p.recent.since(room, after)
	// A page further behind than MaxReplay is not sent everything it
	// missed, which could be the whole history, for every stream a script
	// cares to open: it is told to reload its list, and the stream goes on
	// from the newest message. Ids are global, so how far behind a page is
	// in its room is a count, from memory or (bounded) from the store.
	//
	// Memory serves a resume without reading the store: what was stored
	// and not yet published here (another instance's post on its way
	// through NOTIFY, or the replaced process's last posts on the same
	// SQLite file, which the follower reads as a gap) is published later,
	// and reaches the stream through the hub it has subscribed to. After a
	// restart, with posts going on, a resume that waited for the store to
	// say which id is newest waited behind every other reconnect's reads.
	if inMemory {
		if len(frames) > p.maxReplay {
			return replayStart{reload: true, page: page{last: published}}, nil
		}
		return replayStart{page: page{frames: frames, last: max(after, published)}}, nil
	}
	v, err := p.shared(fmt.Sprintf("count %d after %d, published %d", room, after, published), func(ctx context.Context) (any, error) {
		return p.history.RoomCountAfter(ctx, room, after, p.maxReplay+1)
	})
	if err != nil {
		return replayStart{}, err
	}
	if v.(int) > p.maxReplay {
		return replayStart{reload: true, page: page{last: max(after, published)}}, nil
	}
	pg, err := p.storedPage(room, after, nil, published)
	return replayStart{page: pg}, err
}

// nextPage is room's messages after id after, which follow on from prev:
// from memory if it still holds them all, else a page from the store.
func (p *Pipeline) nextPage(room, after int64, prev *store.Message) (page, error) {
	frames, published, inMemory := p.recent.since(room, after)
	if inMemory {
		return page{frames: frames, last: max(after, published)}, nil
	}
	return p.storedPage(room, after, prev, published)
}

// storedPage reads and frames the next replayPage stored messages of room
// after id after. prev is the message they follow on from, nil if the
// caller does not know it: it is read then. published is the newest message
// published when the caller asked (see shared).
func (p *Pipeline) storedPage(room, after int64, prev *store.Message, published int64) (page, error) {
	key := fmt.Sprintf("room %d after %d, %d, published %d", room, after, replayPage, published)
	v, err := p.shared(key, func(ctx context.Context) (any, error) {
		ms, err := p.history.RoomMessagesAfter(ctx, room, after, replayPage)
		if err != nil {
			return nil, err
		}
		if prev == nil && len(ms) > 0 && after > 0 {
			// The room's latest message up to after: what the first one
			// follows on from, as the publisher rendered it.
			before, err := p.history.RoomMessagesBefore(ctx, room, after+1, 1)
			if err != nil {
				return nil, err
			}
			if len(before) > 0 {
				prev = &before[0]
			}
		}
		pg := page{frames: make([][]byte, 0, len(ms)), last: after, more: len(ms) == replayPage}
		for i := range ms {
			frame, err := MessageFrame(prev, ms[i])
			if err != nil {
				return nil, fmt.Errorf("rendering message %d: %w", ms[i].ID, err)
			}
			pg.frames = append(pg.frames, frame)
			prev, pg.last = &ms[i], ms[i].ID
		}
		if !pg.more {
			// Nothing more in the room up to the newest published: the
			// stream goes on from there, skipping what the hub brings
			// of it twice.
			pg.last = max(pg.last, published)
		}
		pg.prev = prev
		return pg, nil
	})
	if err != nil {
		return page{}, err
	}
	return v.(page), nil
}

// shared runs read once for every stream that asks for key while it runs
// (golang.org/x/sync/singleflight): a crowd reconnecting after a restart
// asks for nearly the same messages, and costs one read per distinct
// request rather than one per stream. A panic in read is an error here, so
// that it fails every stream waiting on it alike.
//
// A stream may only take the result of a read that started after it
// subscribed to the hub, or a message published in between would be in
// neither. Keys hold the newest message published when the stream asked
// (after subscribing): a read under the same key began once that message
// was published, so after everything the stream did not get from the hub
// was committed.
func (p *Pipeline) shared(key string, read func(context.Context) (any, error)) (any, error) {
	v, err, _ := p.reads.Do(key, func() (v any, err error) {
		defer func() {
			if r := recover(); r != nil {
				p.log.Error("reading the history panicked", "key", key, "panic", r, "stack", string(debug.Stack()))
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), replayTimeout)
		defer cancel()
		return read(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrReplayFailed, err)
	}
	return v, nil
}
