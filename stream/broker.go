package stream

import (
	"context"

	"github.com/chatzilla/chatzilla/store"
)

// Broker brings every stored message to this instance's streams, whichever
// instance stored it: the seam between instances.
//
// Publishing is the store's commit: a message's id is announced as it is
// committed (PostgreSQL: NOTIFY in the same transaction; SQLite: the writer
// hands it over after the commit, and the follower looks every 200 ms for
// what another process on the same file committed, as the old one may
// during a restart). Following reads
// by id, so a gap (a lost connection, a notification never received, a
// restart) costs delay, never a message: the follower reads every row after
// the last one it delivered, and logs the gap it closed.
//
// Implementations: store.SQLite (store/broker_sqlite.go) and store.Postgres
// (store/broker_postgres.go). Another broker (Redis, NATS) would announce
// ids through its own channel and read the messages from the store by id the
// same way.
type Broker interface {
	// LastID is the id of the latest message stored, 0 if none: where
	// following starts.
	LastID(ctx context.Context) (int64, error)
	// Follow calls deliver, in id order and exactly once each, for every
	// message with id > afterID, until ctx ends (returning ctx.Err()) or
	// the store closes (nil). deliver runs on Follow's goroutine (SQLite:
	// or the writer's) and must hand the message on rather than do slow
	// work.
	Follow(ctx context.Context, afterID int64, deliver func(store.Message)) error
}
