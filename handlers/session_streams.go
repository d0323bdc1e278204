package handlers

import (
	"context"
	"sync"
	"time"

	"github.com/chatzilla/chatzilla/stream"
)

const (
	// endedSessionsPoll is how often an instance with open streams looks
	// for sessions ended elsewhere (on another instance, or on every device
	// at once), so that their streams end within a second of leaving.
	endedSessionsPoll = 500 * time.Millisecond
	// endedSessionsWindow is how far back each look goes: several polls,
	// so a slow or failed poll, or a commit that became visible late,
	// misses nothing. Ending a stream twice does nothing.
	endedSessionsWindow = 3 * time.Second
)

// sessionStreams are the open streams of each session, so that leaving can
// end them at once rather than when the browser next reconnects.
type sessionStreams struct {
	// ended looks up the sessions ended recently, by anyone.
	ended func(ctx context.Context, within time.Duration) ([]string, error)
	logf  func(msg string, args ...any)

	mu       sync.Mutex
	open     map[string]map[*stream.Stream]struct{} // by session id
	watching bool                                   // a watch goroutine runs
}

// add registers a stream; the first open stream starts the
// watch for sessions ended elsewhere, which stops with the last one.
func (ss *sessionStreams) add(session string, st *stream.Stream) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.open == nil {
		ss.open = make(map[string]map[*stream.Stream]struct{})
	}
	if ss.open[session] == nil {
		ss.open[session] = make(map[*stream.Stream]struct{})
	}
	ss.open[session][st] = struct{}{}
	if !ss.watching {
		ss.watching = true
		go ss.watch()
	}
}

func (ss *sessionStreams) remove(session string, st *stream.Stream) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.open[session], st)
	if len(ss.open[session]) == 0 {
		delete(ss.open, session)
	}
}

// end ends every open stream of the sessions given, logged as "session
// ended"; the browser's reconnect is refused.
func (ss *sessionStreams) end(sessions ...string) {
	ss.mu.Lock()
	var ending []*stream.Stream
	for _, id := range sessions {
		for st := range ss.open[id] {
			ending = append(ending, st)
		}
	}
	ss.mu.Unlock()
	for _, st := range ending {
		st.End(stream.EndedSession)
	}
}

func (ss *sessionStreams) watch() {
	for {
		time.Sleep(endedSessionsPoll)
		ss.mu.Lock()
		if len(ss.open) == 0 {
			ss.watching = false
			ss.mu.Unlock()
			return
		}
		ss.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), endedSessionsPoll*2)
		ids, err := ss.ended(ctx, endedSessionsWindow)
		cancel()
		if err != nil {
			ss.logf("looking for ended sessions", "err", err)
			continue
		}
		ss.end(ids...)
	}
}
