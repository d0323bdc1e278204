// Package store keeps the chat history: every message, in the order the
// store accepted it. Two backends share one method set: SQLite for a single
// instance on one disk, PostgreSQL for several instances behind a load
// balancer, where Follow carries each instance the messages posted through
// the others.
//
// The interface the rest of the app needs is declared where it is used; this
// package only promises that *SQLite and *Postgres have the same methods.
package store

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrNotFound is returned (possibly wrapped; test with errors.Is) when a
// message id does not exist.
var ErrNotFound = errors.New("store: message not found")

// Message is one chat message as stored.
type Message struct {
	ID        int64     // assigned by the store, strictly increasing
	Sender    string    // the sender's email
	Content   string    // as the sender typed it; escaping is the view's job
	CreatedAt time.Time // set by the store when it commits the message, UTC
}

// checkLimit rejects a limit a caller cannot have meant: SQLite reads a
// negative LIMIT as "no limit" and PostgreSQL refuses it, so passing it through
// would make the two backends disagree.
func checkLimit(op string, limit int) error {
	if limit < 1 {
		return fmt.Errorf("store: %s: limit %d must be at least 1", op, limit)
	}
	return nil
}

// oldestFirst turns a page read newest-first (the cheap way to take "the
// latest N" from an index) into the order the chat shows it.
func oldestFirst(msgs []Message) []Message {
	slices.Reverse(msgs)
	return msgs
}
