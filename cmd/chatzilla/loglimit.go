package main

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"
)

// linesPerSecond is how many lines of one message (at INFO or below) are
// logged in a second; the rest are counted and said in one line as the
// second ends. After a restart every page reconnects at once, which was
// 10,000 "stream connected" lines in two seconds: each one CPU the new
// process needed for the reconnects, and Heroku's log router drops lines
// past its buffer anyway. A client that floods (opening streams from many
// addresses, say) cannot flood the log either. Warnings and errors are
// never held back.
const linesPerSecond = 100

// limitedHandler passes each log record on to next, but past
// linesPerSecond records of the same message in a second counts them
// instead. Handlers made by WithAttrs and WithGroup share the counts.
type limitedHandler struct {
	next slog.Handler
	l    *lineLimit
}

// lineLimit is the counting every limitedHandler from one root shares.
type lineLimit struct {
	root    slog.Handler // where the counts are said
	perSec  int
	mu      sync.Mutex
	window  time.Time      // when this second began; zero: none yet
	lines   map[string]int // lines of each message this second
	held    map[string]int // of those, not logged
	report  *time.Timer    // says held at the second's end; nil if none held
	stopped bool
}

func newLimitedHandler(next slog.Handler, perSecond int) *limitedHandler {
	return &limitedHandler{next: next, l: &lineLimit{root: next, perSec: perSecond, lines: map[string]int{}, held: map[string]int{}}}
}

func (h *limitedHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h *limitedHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn || h.l.pass(r.Message, r.Time) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *limitedHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &limitedHandler{next: h.next.WithAttrs(attrs), l: h.l}
}

func (h *limitedHandler) WithGroup(name string) slog.Handler {
	return &limitedHandler{next: h.next.WithGroup(name), l: h.l}
}

// pass counts a line of msg at now, and says whether to log it.
func (l *lineLimit) pass(msg string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.window) >= time.Second || now.Before(l.window) { // a zero window is long past
		l.window = now
		clear(l.lines)
	}
	l.lines[msg]++
	if l.lines[msg] <= l.perSec || l.stopped {
		return true
	}
	l.held[msg]++
	if l.report == nil {
		l.report = time.AfterFunc(time.Until(l.window.Add(time.Second)), l.say)
	}
	return false
}

// say logs, for each message held back, how many lines were.
func (l *lineLimit) say() {
	l.mu.Lock()
	held := l.held
	l.held, l.report = map[string]int{}, nil
	l.mu.Unlock()
	for _, msg := range slices.Sorted(maps.Keys(held)) {
		r := slog.NewRecord(time.Now(), slog.LevelInfo, msg, 0)
		r.AddAttrs(slog.Int("lines_not_logged", held[msg]),
			slog.String("why", "more than "+strconv.Itoa(l.perSec)+" a second: counted, not logged one by one"))
		_ = l.root.Handle(context.Background(), r)
	}
}

// flush says what is held back now, and logs every line from then on: for
// the end of the process, so that its last counts are not lost.
func (h *limitedHandler) flush() { h.l.flush() }

func (l *lineLimit) flush() {
	l.mu.Lock()
	l.stopped = true
	pending := l.report != nil && l.report.Stop()
	l.mu.Unlock()
	if pending {
		l.say()
	}
}
