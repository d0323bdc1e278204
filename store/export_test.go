package store

import (
	"context"
	"errors"
	"fmt"
)

// What only tests need: reading one message by id, and telling followers'
// connections apart.

// ErrNotFound is returned (possibly wrapped; test with errors.Is) when a
// message id does not exist.
var ErrNotFound = errors.New("store: message not found")

// Message returns the message with the given id, or an error wrapping
// ErrNotFound.
func (p *Postgres) Message(ctx context.Context, id int64) (Message, error) {
	msgs, err := queryMessages(ctx, p.pool, "message",
		`SELECT `+postgresColumns+` FROM messages WHERE id = $1`, id)
	if err != nil {
		return Message{}, err
	}
	if len(msgs) == 0 {
		return Message{}, fmt.Errorf("%w: id %d", ErrNotFound, id)
	}
	return msgs[0], nil
}

// Message returns the message with the given id, or an error wrapping
// ErrNotFound.
func (s *SQLite) Message(ctx context.Context, id int64) (Message, error) {
	msgs, err := s.query(ctx, "message", `SELECT `+sqliteColumns+` FROM messages WHERE id = ?`, id)
	if err != nil {
		return Message{}, err
	}
	if len(msgs) == 0 {
		return Message{}, fmt.Errorf("%w: id %d", ErrNotFound, id)
	}
	return msgs[0], nil
}

// FollowerName is the application_name that Follow's connections carry, unique
// to this *Postgres, so they can be told apart in pg_stat_activity.
func (p *Postgres) FollowerName() string { return p.followerName }
