package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"
)

// localFollower is the SQLite store's in-process follower: the writer hands it
// every message it commits, and Follow's looks the ones another process
// committed, in id order.
type localFollower struct {
	// mu is held by the writer from before a commit until its messages
	// are delivered, and by Follow while it catches up, so a follower sees
	// each message exactly once.
	mu      sync.Mutex
	deliver func(Message)
	last    int64 // the id of the last message delivered
}

func (s *SQLite) startWriting() {
	s.writes.start(func(group []*addRequest) ([]Message, error) {
		s.follow.mu.Lock()
		defer s.follow.mu.Unlock()
		msgs, err := s.commit(group)
		if err == nil && s.follow.deliver != nil {
			s.handOn(msgs)
		}
		return msgs, err
	})
}

// handOn delivers the messages the writer just committed, in id order after
// the last one delivered. A gap before them is messages another process
// committed in between (during a restart the old process may still be
// storing the posts it had taken when the new one started), or an id an
// insert used up without storing a row (a key used already): the gap is
// read, and what it holds delivered first. If that read fails, these wait
// for the follower's next look (see Follow), which delivers them in order,
// rather than go out ahead of what is missing. Called with follow.mu held.
func (s *SQLite) handOn(msgs []Message) {
	for _, m := range msgs {
		if m.ID == 0 || m.ID <= s.follow.last { // 0: not stored, its key was used already
			continue
		}
		if m.ID != s.follow.last+1 {
			ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
			err := s.catchUp(ctx)
			cancel()
			if err != nil {
				return
			}
			continue // the read had m too, committed as it is
		}
		s.follow.deliver(m)
		s.follow.last = m.ID
	}
}

// catchUp delivers every message stored after the last one delivered.
// Called with follow.mu held.
func (s *SQLite) catchUp(ctx context.Context) error {
	for {
		page, err := s.logAfter(ctx, s.follow.last, followPage)
		if err != nil {
			return err
		}
		for _, m := range page {
			s.follow.deliver(m)
			s.follow.last = m.ID
		}
		if len(page) < followPage {
			return nil
		}
	}
}

// AddMessage stores a message; when it returns nil the message is on disk
// (and has been handed to the follower, if there is one, unless reading the
// messages another process stored before it failed: then the follower's
// next look hands it on).
func (s *SQLite) AddMessage(ctx context.Context, sender, content string) (Message, error) {
	return s.writes.add(ctx, GeneralID, Author{Email: sender}, content, "")
}

// AddMessageOnce is AddMessage for a message with the sender's one-time key:
// if the sender already has a message stored under key, it stores nothing
// and returns an error wrapping ErrAlreadyStored. An empty key is no key.
func (s *SQLite) AddMessageOnce(ctx context.Context, sender, content, key string) (Message, error) {
	return s.AddMessageAs(ctx, Author{Email: sender}, content, key)
}

// AddMessageAs is AddMessageOnce for an author shown with a display name or
// a verified mark, which the message keeps. The key is the author's email's:
// a new name does not make a used key new. The message goes to general.
func (s *SQLite) AddMessageAs(ctx context.Context, a Author, content, key string) (Message, error) {
	return s.AddMessageIn(ctx, GeneralID, a, content, key)
}

// AddMessageIn is AddMessageAs for the room roomID, which the caller has
// read (Room, DirectRoom): the store does not check that it exists. The key
// is the author's across rooms, so a retry posted to another room is still
// a retry.
func (s *SQLite) AddMessageIn(ctx context.Context, roomID int64, a Author, content, key string) (Message, error) {
	if err := checkAdd(roomID, key); err != nil {
		return Message{}, err
	}
	return s.writes.add(ctx, roomID, a, content, key)
}

// commit stores a group in one transaction: all of it or, on any error,
// none of it.
func (s *SQLite) commit(group []*addRequest) ([]Message, error) {
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: add message: %w", err)
	}
	defer tx.Rollback()
	// A key already used makes the insert do nothing and return no row.
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO messages (room_id, sender, content, created_at, send_key, sender_name, verified)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (sender, send_key) DO NOTHING RETURNING id`)
	if err != nil {
		return nil, fmt.Errorf("store: add message: %w", err)
	}
	defer stmt.Close()

	// Read the clock while holding the write lock, so created_at never goes
	// backwards as ids go forwards. Microseconds is what the column keeps.
	now := time.Now().UTC().Truncate(time.Microsecond)
	msgs := make([]Message, len(group))
	for i, r := range group {
		a := r.author
		msgs[i] = Message{RoomID: r.room, Sender: a.Email, Content: r.content, CreatedAt: now, SenderName: a.Name, Verified: a.Verified}
		err := stmt.QueryRowContext(ctx, r.room, a.Email, r.content, now.UnixMicro(), nullable(r.key), a.Name, a.Verified).Scan(&msgs[i].ID)
		if errors.Is(err, sql.ErrNoRows) {
			msgs[i] = Message{} // already stored
		} else if err != nil {
			return nil, fmt.Errorf("store: add message: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		// SQLite commits in this process, so a failed commit was rolled
		// back; still, the caller can only be sure by retrying with the key.
		return nil, fmt.Errorf("store: add message: commit: %w: %w", ErrOutcomeUnknown, err)
	}
	return msgs, nil
}
