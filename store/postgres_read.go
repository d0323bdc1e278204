package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Reads from the pool are repeatable: when a connection is lost on the way,
// the read runs again on another (see pgPool.read).

// postgresColumns are what scanMessage reads, in its order.
const postgresColumns = messageColumns

func scanMessage(row pgx.Row, m *Message) error {
	return row.Scan(&m.ID, &m.RoomID, &m.Sender, &m.Content, &m.CreatedAt, &m.SenderName, &m.Verified)
}

// MessagesAfter returns up to limit of general's messages with id >
// afterID, oldest first: the chat's one room before there were rooms keeps
// the reads it had.
func (p *Postgres) MessagesAfter(ctx context.Context, afterID int64, limit int) ([]Message, error) {
	return p.RoomMessagesAfter(ctx, GeneralID, afterID, limit)
}

// RecentMessages returns general's latest limit messages, oldest first.
func (p *Postgres) RecentMessages(ctx context.Context, limit int) ([]Message, error) {
	return p.RoomRecentMessages(ctx, GeneralID, limit)
}

// MessagesBefore returns general's latest limit messages with id <
// beforeID, oldest first: the page above the oldest one a reader already
// has.
func (p *Postgres) MessagesBefore(ctx context.Context, beforeID int64, limit int) ([]Message, error) {
	return p.RoomMessagesBefore(ctx, GeneralID, beforeID, limit)
}

// LogBefore returns the latest limit messages of every room with id <
// beforeID, oldest first: the end of the log, which a new process keeps in
// memory.
func (p *Postgres) LogBefore(ctx context.Context, beforeID int64, limit int) ([]Message, error) {
	const op = "log before"
	if err := checkLimit(op, limit); err != nil {
		return nil, err
	}
	msgs, err := p.readMessages(ctx, op,
		`SELECT `+postgresColumns+` FROM messages WHERE id < $1 ORDER BY id DESC LIMIT $2`, beforeID, limit)
	return oldestFirst(msgs), err
}

// RoomCountAfter counts the room's messages with id > afterID, up to limit.
func (p *Postgres) RoomCountAfter(ctx context.Context, roomID, afterID int64, limit int) (int, error) {
	var n int
	err := p.pool.read(ctx, func(c *pgxpool.Conn) error {
		return c.QueryRow(ctx, selectRoomCountAfter, roomID, afterID, limit).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("store: room count after: %w", err)
	}
	return n, nil
}

// LastID returns the highest stored message id, 0 when there are none.
func (p *Postgres) LastID(ctx context.Context) (int64, error) {
	var id int64
	err := p.pool.read(ctx, func(c *pgxpool.Conn) error {
		return c.QueryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM messages`).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("store: last id: %w", err)
	}
	return id, nil
}

// querier is what the pool, a pooled connection and Follow's own connection
// have in common.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

const selectMessagesAfter = `SELECT ` + postgresColumns + ` FROM messages WHERE id > $1 ORDER BY id LIMIT $2`

func messagesAfter(ctx context.Context, q querier, afterID int64, limit int) ([]Message, error) {
	return queryMessages(ctx, q, "messages after", selectMessagesAfter, afterID, limit)
}

// readMessages is queryMessages on the pool, as a repeatable read.
func (p *Postgres) readMessages(ctx context.Context, op, sql string, args ...any) ([]Message, error) {
	var msgs []Message
	err := p.pool.read(ctx, func(c *pgxpool.Conn) (err error) {
		msgs, err = queryMessages(ctx, c, op, sql, args...)
		return err
	})
	return msgs, err
}

func queryMessages(ctx context.Context, q querier, op, sql string, args ...any) ([]Message, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	msgs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Message, error) {
		var m Message
		err := scanMessage(row, &m)
		m.CreatedAt = m.CreatedAt.UTC()
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	return msgs, nil
}
