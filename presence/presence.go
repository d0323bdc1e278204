// Package presence knows who is in the chat: everyone with at least one open
// stream, on this instance or, through a Directory, on any instance.
//
// A person with several tabs open is one person; they leave when their last
// stream closes. A short grace period hides reconnects and page reloads, so a
// flaky connection does not fill the chat with "left"/"joined" notices.
//
// Changes are reported in batches, at most once per tick (see Run), never
// once per stream: when a thousand people arrive at once, every stream gets
// one update about all of them instead of a thousand updates.
package presence

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Change is what happened to the set of people online since the last one.
type Change struct {
	Joined, Left []string
	Online       []string // everyone now, sorted
}

// Directory shares presence between instances. Every method may be slow (it
// talks to the database); the Roster calls them from Run's goroutine only.
type Directory interface {
	// Arrive records that this instance has these people online; Depart
	// that it no longer has. Run gathers what happened since its last
	// write into one call of each: after a restart every page arrives at
	// once, and one write per person, one at a time, held them all up.
	Arrive(ctx context.Context, emails []string) error
	Depart(ctx context.Context, emails []string) error
	// Refresh records that this instance has exactly the people in here,
	// which heals any Arrive or Depart that failed, keeps the records alive,
	// and forgets those of instances that stopped refreshing (crashed).
	// Refresh with no one removes this instance from the directory.
	Refresh(ctx context.Context, here []string) error
	// Online is everyone online on any instance, sorted.
	Online(ctx context.Context) ([]string, error)
	// Linger records that this instance is stopping: its records last d
	// more and no longer, time for their pages to reconnect, to another
	// instance or to the process that replaces this one, without being
	// seen to leave and join again.
	Linger(ctx context.Context, d time.Duration) error
}

// Keeper carries who is online across a restart where there is no
// Directory (one instance, on SQLite): the process that stops keeps who
// it had, and the one that starts takes them.
type Keeper interface {
	KeepOnline(ctx context.Context, emails []string) error
	// TakeOnline returns the people kept at or after since, sorted and
	// each once, and forgets every one kept.
	TakeOnline(ctx context.Context, since time.Time) ([]string, error)
}

// handoverFor is how long the people a stopped process had online still
// count as online in the process that replaces it (or, with a directory,
// on every instance): their pages reconnect within it, after a deploy or a
// daily restart, and are not announced as joining again. Whoever is not
// back by then is shown to leave.
const handoverFor = 15 * time.Second

// keptFor is how old a kept list may be for a starting process to take it:
// older, and the chat was down long enough that its people are gone.
const keptFor = time.Minute

// Roster tracks presence. Create it with New and start it with Run.
type Roster struct {
	dir      Directory // nil: this instance alone
	grace    time.Duration
	onChange func(Change)

	mu      sync.Mutex
	streams map[string]int         // email -> streams open here
	leaving map[string]*time.Timer // email -> pending departure after grace
	goodbye map[string]bool        // emails that pressed Leave: no grace
	visits  map[string]*visit      // email -> page loaded without a stream (yet)
	here    map[string]bool        // emails this instance counts as online
	dirty   bool                   // here changed since the last publish
	online  []string               // last published set, sorted
	ops     chan op                // to Run: directory writes, in order
	lost    atomic.Bool            // an op did not fit in ops: Run refreshes the whole set

	// Across a restart (see TakeOver and HandOver).
	keeper       Keeper          // nil: who is online is not kept
	handoverFor  time.Duration   // handoverFor, shorter in tests
	carried      map[string]bool // who the process before had online; nil once it lapses
	carriedUntil time.Time
	handover     chan handoverRequest // to Run
	stopped      chan struct{}        // closed when Run returns
}

// handoverRequest asks Run to hand over within ctx, and says how it went.
type handoverRequest struct {
	ctx  context.Context
	done chan error
}

type op struct {
	email  string
	arrive bool
}

// opsBuffer bounds the directory writes waiting for Run; beyond it, they
// are dropped, and Run's next tick records who is here as a whole (Refresh)
// instead: a slow database never holds up a stream.
const opsBuffer = 4096

// New returns a roster. onChange is called from Run's goroutine for every
// batch of changes in who is online; it must not block for long.
func New(dir Directory, grace time.Duration, onChange func(Change)) *Roster {
	return &Roster{
		dir: dir, grace: grace, onChange: onChange,
		streams: make(map[string]int),
		leaving: make(map[string]*time.Timer),
		goodbye: make(map[string]bool),
		visits:  make(map[string]*visit),
		here:    make(map[string]bool),
		online:  []string{},
		ops:     make(chan op, opsBuffer),

		handoverFor: handoverFor,
		handover:    make(chan handoverRequest),
		stopped:     make(chan struct{}),
	}
}

// KeepWith makes the roster keep who is online in k across a restart (see
// TakeOver), for an instance without a directory. Call it before Run.
func (r *Roster) KeepWith(k Keeper) { r.keeper = k }

// TakeOver starts from who the process before this one had online, so
// that their pages reconnecting are not announced as people joining: with
// a directory, everyone it lists (a stopped instance's records linger
// there; see Directory.Linger), otherwise whoever the keeper kept, who
// count as online for a while whether they are back or not. Call it once,
// before Run; on an error the roster starts from no one.
func (r *Roster) TakeOver(ctx context.Context) error {
	var online []string
	var err error
	switch {
	case r.dir != nil:
		online, err = r.dir.Online(ctx)
	case r.keeper != nil:
		online, err = r.keeper.TakeOnline(ctx, time.Now().Add(-keptFor))
	}
	if err != nil || len(online) == 0 {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.online = online
	if r.dir == nil {
		r.carried = Set(online)
		r.carriedUntil = time.Now().Add(r.handoverFor)
	}
	return nil
}

// HandOver records who is online for whatever replaces this process (see
// TakeOver), and then ends Run, so nothing more is published or written:
// call it when the process starts to stop, before it stops listening, so
// that a process started once the listener is free finds the list. With a
// directory this instance's records then lapse after a while instead of at
// once, so people reconnecting to another instance are not seen to leave
// either. If the write fails, Run goes on as before.
func (r *Roster) HandOver(ctx context.Context) error {
	req := handoverRequest{ctx: ctx, done: make(chan error, 1)}
	select {
	case r.handover <- req:
	case <-r.stopped:
		return errNotRunning
	case <-ctx.Done():
		return ctx.Err()
	}
	// Run writes within ctx: a list written after this gives up could
	// reach the store after the next process looked for it.
	return <-req.done
}

var errNotRunning = errors.New("presence: the roster is not running, or has handed over already")

// Set is emails as a set.
func Set(emails []string) map[string]bool {
	set := make(map[string]bool, len(emails))
	for _, e := range emails {
		set[e] = true
	}
	return set
}

// Enter counts a new stream of email. Call the returned function when the
// stream ends; immediate skips the grace period. A stream ends any visit
// (see Visit): the page that made it runs JavaScript after all.
func (r *Roster) Enter(email string) (exit func(immediate bool)) {
	r.mu.Lock()
	lapse := r.endVisit(email)
	r.mu.Unlock()
	exit = r.enter(email)
	if lapse != nil {
		lapse(true)
	}
	return exit
}

// visit is a page load that counts as a stream for a while.
type visit struct {
	timer *time.Timer
	exit  func(immediate bool)
}

// Visit counts email as online for d, as if a stream were open: someone
// reading without JavaScript has no stream, only page loads, each of which
// shows the latest messages. Another visit within d starts d again.
func (r *Roster) Visit(email string, d time.Duration) {
	r.mu.Lock()
	if v, ok := r.visits[email]; ok && v.timer.Stop() {
		v.timer.Reset(d)
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	v := &visit{exit: r.enter(email)}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.visits[email] = v
	v.timer = time.AfterFunc(d, func() {
		r.mu.Lock()
		if r.visits[email] == v {
			delete(r.visits, email)
		}
		r.mu.Unlock()
		v.exit(true) // the visit was the grace period
	})
}

// endVisit stops email's visit, if any, and returns what ends its count, to
// be called once r.mu is released. It must be called with r.mu held.
func (r *Roster) endVisit(email string) func(immediate bool) {
	v, ok := r.visits[email]
	if !ok || !v.timer.Stop() {
		return nil // none, or it is ending by itself
	}
	delete(r.visits, email)
	return v.exit
}

func (r *Roster) enter(email string) (exit func(immediate bool)) {
	r.mu.Lock()
	r.streams[email]++
	delete(r.goodbye, email)
	if t, ok := r.leaving[email]; ok {
		t.Stop() // came back within the grace period: never left
		delete(r.leaving, email)
	}
	arrived := !r.here[email]
	if arrived {
		r.here[email] = true
		r.dirty = true
	}
	r.mu.Unlock()
	if arrived && r.dir != nil {
		r.send(op{email: email, arrive: true})
	}

	var once sync.Once
	return func(immediate bool) { once.Do(func() { r.exit(email, immediate) }) }
}

func (r *Roster) exit(email string, immediate bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.streams[email]--; r.streams[email] > 0 {
		return
	}
	delete(r.streams, email)
	if immediate || r.grace <= 0 || r.goodbye[email] {
		delete(r.goodbye, email)
		r.depart(email)
		return
	}
	r.leaving[email] = time.AfterFunc(r.grace, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.streams[email] == 0 && r.leaving[email] != nil {
			r.depart(email)
		}
	})
}

// depart must be called with r.mu held.
func (r *Roster) depart(email string) {
	if t, ok := r.leaving[email]; ok {
		t.Stop()
		delete(r.leaving, email)
	}
	if r.carried[email] {
		delete(r.carried, email) // came back and left, or pressed Leave
		r.dirty = true
	}
	if !r.here[email] {
		return
	}
	delete(r.here, email)
	r.dirty = true
	if r.dir != nil {
		r.send(op{email: email})
	}
}

// send queues o for Run, or, if Run is far behind, has its next tick
// record who is here as a whole. It never waits, with or without r.mu.
func (r *Roster) send(o op) {
	select {
	case r.ops <- o:
	default:
		r.lost.Store(true)
	}
}

// Leave ends email's presence here without the grace period, now or when
// their last stream closes (the page that pressed Leave is still open while
// it asks): someone who said goodbye should not linger in the list.
func (r *Roster) Leave(email string) {
	r.mu.Lock()
	lapse := r.endVisit(email)
	if r.streams[email] == 0 {
		r.depart(email)
	} else {
		r.goodbye[email] = true
	}
	r.mu.Unlock()
	if lapse != nil {
		lapse(true)
	}
}

// Online is everyone online as last published, sorted.
func (r *Roster) Online() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.online)
}

// lapse forgets who the process before this one had online once the
// handover is over, which changes who is counted. It must be called with
// r.mu held.
func (r *Roster) lapse(now time.Time) {
	if r.carried != nil && !now.Before(r.carriedUntil) {
		r.carried = nil
		r.dirty = true
	}
}

// countedSorted is who this instance counts as online, sorted: who is
// here and, until the handover lapses, who the process before it had
// (never anyone with a directory, which keeps those itself). It must be
// called with r.mu held.
func (r *Roster) countedSorted() []string {
	counted := make([]string, 0, len(r.here)+len(r.carried))
	for e := range r.here {
		counted = append(counted, e)
	}
	for e := range r.carried {
		if !r.here[e] {
			counted = append(counted, e)
		}
	}
	slices.Sort(counted)
	return counted
}

// publish tells the listener what changed since the last publish. Only Run
// calls it, so publishes never overlap.
func (r *Roster) publish(online []string) {
	r.mu.Lock()
	previous := r.online
	r.online = online
	r.mu.Unlock()
	c := diff(previous, online)
	if len(c.Joined) > 0 || len(c.Left) > 0 {
		r.onChange(c)
	}
}

func diff(before, after []string) Change {
	c := Change{Online: after}
	for _, e := range after {
		if _, found := slices.BinarySearch(before, e); !found {
			c.Joined = append(c.Joined, e)
		}
	}
	for _, e := range before {
		if _, found := slices.BinarySearch(after, e); !found {
			c.Left = append(c.Left, e)
		}
	}
	return c
}
