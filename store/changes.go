package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// A Change says that what one person's sidebar shows has changed: they read
// a room, or joined, left or were brought into one. Unlike messages, changes
// are not stored: an instance that misses one (its connection was down)
// shows the person's counts as of their next page load. Every instance with
// a stream of theirs reads their rooms again (see stream.Pipeline).
type Change struct {
	Email string
	Room  int64
	// Members says the room's membership changed, so its "who's online"
	// must be read again.
	Members bool
}

// changesChannel carries every Change between instances on PostgreSQL.
const changesChannel = "chatzilla_changes"

// encode is c as a notification's payload: "m 12 ann@example.com", where m
// (membership) or r (read) comes first and the address, which may hold
// spaces, last.
func (c Change) encode() string {
	kind := "r"
	if c.Members {
		kind = "m"
	}
	return kind + " " + strconv.FormatInt(c.Room, 10) + " " + c.Email
}

func decodeChange(payload string) (Change, error) {
	kind, rest, ok1 := strings.Cut(payload, " ")
	room, email, ok2 := strings.Cut(rest, " ")
	id, err := strconv.ParseInt(room, 10, 64)
	if !ok1 || !ok2 || err != nil || (kind != "m" && kind != "r") || email == "" {
		return Change{}, fmt.Errorf("store: a change notification that does not parse: %q", payload)
	}
	return Change{Email: email, Room: id, Members: kind == "m"}, nil
}

// changeHandlers is who hears about changes in this process.
type changeHandlers struct {
	mu sync.RWMutex
	fn func(Change)
}

func (h *changeHandlers) set(fn func(Change)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fn = fn
}

func (h *changeHandlers) call(c Change) {
	h.mu.RLock()
	fn := h.fn
	h.mu.RUnlock()
	if fn != nil {
		fn(c)
	}
}

// OnChange sets what is called for every Change announced, by this process
// (SQLite has no other).
func (s *SQLite) OnChange(fn func(Change)) { s.changes.set(fn) }

// Announce tells this process's OnChange about c.
func (s *SQLite) Announce(_ context.Context, c Change) error {
	s.changes.call(c)
	return nil
}

// OnChange sets what Follow calls for every Change announced by any
// instance on the database, this one included. Set it before Follow.
func (p *Postgres) OnChange(fn func(Change)) { p.changes.set(fn) }

// Announce tells every instance following the database about c.
func (p *Postgres) Announce(ctx context.Context, c Change) error {
	if _, err := p.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, changesChannel, c.encode()); err != nil {
		return fmt.Errorf("store: announce change: %w", err)
	}
	return nil
}
