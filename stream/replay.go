package stream

import (
	"context"
	"time"

	"github.com/chatzilla/chatzilla/presence"
	"github.com/chatzilla/chatzilla/store"
)

const (
	// replayPage is how many stored messages a replay reads at a time.
	replayPage = 500
	// replayTimeout bounds one replay read.
	replayTimeout = 10 * time.Second
	// defaultMaxReplay is the most messages a stream replays (see
	// Config.MaxReplay): enough for a page that lost its connection for a
	// while in a busy chat, few enough that a replay costs well under a
	// megabyte, whatever the size of the history.
	defaultMaxReplay = 2000
)

// History is the stored messages a stream replays.
type History interface {
	RecentMessages(ctx context.Context, limit int) ([]store.Message, error)
	MessagesAfter(ctx context.Context, afterID int64, limit int) ([]store.Message, error)
	MessagesBefore(ctx context.Context, beforeID int64, limit int) ([]store.Message, error)
}

// sendOnline sends who is online now. It returns why the stream must end,
// "" if it may go on.
func (st *Stream) sendOnline() (why string) {
	people, err := st.p.presenceFrame(presence.Change{Online: st.p.roster.Online()})
	if err != nil {
		st.log.Error("rendering who is online", "err", err)
		return "render failed"
	}
	if st.send(people) != nil {
		return "write failed"
	}
	return ""
}

// replay sends the messages after the page's last, if it asked for them,
// and returns the id of the last message sent, and why the stream must end
// ("" if it may go on).
func (st *Stream) replay() (last int64, why string) {
	after, replay := st.req.After, st.req.Replay
	last = after
	if replay {
		// A page further behind than MaxReplay is not sent everything it
		// missed, which could be the whole history, for every stream a
		// script cares to open: it is told to reload its list, and the
		// stream goes on from the newest message.
		ctx, cancel := context.WithTimeout(context.Background(), replayTimeout)
		newest, err := st.p.history.RecentMessages(ctx, 1)
		cancel()
		if err != nil {
			st.log.Error("stream replay", "after", last, "err", err)
			return 0, "replay failed" // the browser reconnects and tries again
		}
		if len(newest) > 0 && newest[0].ID-after > int64(st.p.maxReplay) {
			st.log.Info("stream too far behind to replay: told to reload", "after", after, "newest", newest[0].ID)
			if st.send(reloadFrame) != nil {
				return 0, "write failed"
			}
			last, replay = newest[0].ID, false
		}
	}
	var prev *store.Message // the message before the next one sent
	for more := replay; more; {
		ctx, cancel := context.WithTimeout(context.Background(), replayTimeout)
		page, err := st.p.history.MessagesAfter(ctx, last, replayPage)
		cancel()
		if err != nil {
			st.log.Error("stream replay", "after", last, "err", err)
			return 0, "replay failed" // the browser reconnects and tries again
		}
		if prev == nil && len(page) > 0 && after > 0 {
			if prev, err = st.previous(after + 1); err != nil {
				st.log.Error("stream replay", "before", after+1, "err", err)
				return 0, "replay failed"
			}
		}
		for i := range page {
			m := page[i]
			frame, err := MessageFrame(prev, m)
			if err != nil {
				st.log.Error("rendering message", "id", m.ID, "err", err)
				return 0, "render failed"
			}
			st.batch = append(st.batch, frame)
			last, prev = m.ID, &page[i]
		}
		if st.flush() != nil {
			return 0, "write failed"
		}
		more = len(page) == replayPage
	}
	return last, ""
}

// previous is the latest message before id before, nil if there is none:
// what the first message of a replay follows on from.
func (st *Stream) previous(before int64) (*store.Message, error) {
	ctx, cancel := context.WithTimeout(context.Background(), replayTimeout)
	defer cancel()
	ms, err := st.p.history.MessagesBefore(ctx, before, 1)
	if err != nil || len(ms) == 0 {
		return nil, err
	}
	return &ms[0], nil
}
