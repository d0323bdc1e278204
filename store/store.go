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

// ErrAlreadyStored is returned (wrapped) by AddMessageOnce when the sender
// already has a message stored under the same key: a retry of a post that
// succeeded, whose answer the sender never saw. Nothing new was stored.
var ErrAlreadyStored = errors.New("store: a message with this key is already stored")

// ErrOutcomeUnknown is returned (wrapped) when the connection to the database
// failed while a commit was under way: the message may or may not be stored.
// Only a retry with the same key settles it without a duplicate.
var ErrOutcomeUnknown = errors.New("store: the commit's outcome is unknown")

// MaxKeyLength bounds a message's one-time key, in bytes.
const MaxKeyLength = 64

// Message is one chat message as stored.
type Message struct {
	ID        int64     // assigned by the store, strictly increasing
	RoomID    int64     // the room it was posted in; GeneralID for every message from before rooms
	Sender    string    // the sender's email
	Content   string    // as the sender typed it; escaping is the view's job
	CreatedAt time.Time // set by the store when it commits the message, UTC
	// SenderName and Verified are how the sender was shown when they sent
	// the message: their display name then ("" if they had none) and
	// whether they had signed in by an emailed link. A later change of name
	// does not rewrite history.
	SenderName string
	Verified   bool
}

// messageColumns are the columns of a message, in the order both engines
// scan them.
const messageColumns = "id, room_id, sender, content, created_at, sender_name, verified"

// Author is who sends a message, as they are shown at the time: the email is
// the identity, the name and the mark are what the message keeps of how they
// looked when they sent it.
type Author struct {
	Email    string
	Name     string // display name, "" for none
	Verified bool   // signed in by an emailed link
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

// checkAdd rejects a room id no room can have and a key no composer of
// ours could have made, so that a key's size is bounded in the index.
func checkAdd(roomID int64, key string) error {
	if roomID < GeneralID {
		return fmt.Errorf("store: add message: no room has id %d", roomID)
	}
	if len(key) > MaxKeyLength {
		return fmt.Errorf("store: add message: key is %d bytes, at most %d", len(key), MaxKeyLength)
	}
	return nil
}

// nullable is key as stored: NULL for no key, which a unique index never
// compares with another.
func nullable(key string) any {
	if key == "" {
		return nil
	}
	return key
}

// oldestFirst turns a page read newest-first (the cheap way to take "the
// latest N" from an index) into the order the chat shows it.
func oldestFirst(msgs []Message) []Message {
	slices.Reverse(msgs)
	return msgs
}
