package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

const postgresRoomColumns = "id, slug, name, kind, created_by, created_at"

// scanPostgresRoom reads postgresRoomColumns into r, then the rest into more.
func scanPostgresRoom(row pgx.Row, r *Room, more ...any) error {
	if err := row.Scan(append([]any{&r.ID, &r.Slug, &r.Name, &r.Kind, &r.CreatedBy, &r.CreatedAt}, more...)...); err != nil {
		return err
	}
	r.CreatedAt = r.CreatedAt.UTC()
	return nil
}

// writeTx runs fn in a transaction on a pooled connection and commits it.
// When the connection is lost before COMMIT is sent, the server has rolled
// the transaction back and it runs again on another connection; a failed
// COMMIT is never sent again.
func (p *Postgres) writeTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return p.pool.run(ctx, false, func(c *pgxpool.Conn) error {
		tx, err := c.Begin(ctx)
		if err == nil {
			defer tx.Rollback(ctx)
			err = fn(tx)
		}
		if err != nil {
			if c.Conn().IsClosed() {
				return noEffect{err}
			}
			return err
		}
		return tx.Commit(ctx)
	})
}

// CreateRoom makes an open or private room with r's slug, name, kind and
// creator, whose members are the creator and members, in one transaction.
// A slug in use (general's included, and any that looks like a direct
// room's) gives an error wrapping ErrRoomTaken. It returns the room as
// stored.
func (p *Postgres) CreateRoom(ctx context.Context, r Room, members []string) (Room, error) {
	if err := checkNewRoom(r); err != nil {
		return Room{}, err
	}
	err := p.writeTx(ctx, func(tx pgx.Tx) error {
		// A slug in use makes the insert do nothing and return no row.
		err := tx.QueryRow(ctx, `INSERT INTO rooms (slug, name, kind, created_by, created_at) VALUES ($1, $2, $3, $4, clock_timestamp())
			ON CONFLICT (slug) DO NOTHING RETURNING id, created_at`,
			r.Slug, r.Name, string(r.Kind), r.CreatedBy).Scan(&r.ID, &r.CreatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%q: %w", r.Slug, ErrRoomTaken)
		}
		if err != nil {
			return err
		}
		return addMembers(ctx, tx, r.ID, membersOf(r, members))
	})
	if err != nil {
		return Room{}, fmt.Errorf("store: create room: %w", err)
	}
	r.CreatedAt = r.CreatedAt.UTC()
	return r, nil
}

// addMembers makes emails members of the room, those who are not already.
func addMembers(ctx context.Context, tx pgx.Tx, roomID int64, emails []string) error {
	_, err := tx.Exec(ctx, `INSERT INTO room_members (room_id, email, joined_at)
		SELECT $1, e, clock_timestamp() FROM unnest($2::text[]) AS e
		ON CONFLICT (room_id, email) DO NOTHING`, roomID, emails)
	return err
}

// Room returns the room with the given slug, or an error wrapping ErrNoRoom.
func (p *Postgres) Room(ctx context.Context, slug string) (Room, error) {
	var r Room
	err := p.pool.read(ctx, func(c *pgxpool.Conn) error {
		return scanPostgresRoom(c.QueryRow(ctx, `SELECT `+postgresRoomColumns+` FROM rooms WHERE slug = $1`, slug), &r)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Room{}, fmt.Errorf("store: room %q: %w", slug, ErrNoRoom)
	}
	if err != nil {
		return Room{}, fmt.Errorf("store: room: %w", err)
	}
	return r, nil
}

// DirectRoom returns the direct room of a and b, made (by a) with both as
// members if there is none yet. Calls for the same pair at once, on any
// instance, end with one room: the unique slug makes the second insert wait
// for the first transaction and then do nothing, and the read after it, a
// statement of its own, sees the room the first one committed. (In one
// statement it could not: its snapshot would be older than that commit.)
func (p *Postgres) DirectRoom(ctx context.Context, a, b string) (Room, error) {
	if err := checkPair(a, b); err != nil {
		return Room{}, err
	}
	slug := DirectSlug(a, b)
	var r Room
	err := p.writeTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO rooms (slug, name, kind, created_by, created_at) VALUES ($1, '', 'direct', $2, clock_timestamp())
			ON CONFLICT (slug) DO NOTHING`, slug, a); err != nil {
			return err
		}
		if err := scanPostgresRoom(tx.QueryRow(ctx, `SELECT `+postgresRoomColumns+` FROM rooms WHERE slug = $1`, slug), &r); err != nil {
			return err
		}
		if r.Kind != RoomDirect { // CreateRoom refuses such slugs; a database edited by hand
			return fmt.Errorf("slug %q is a %s room's", slug, r.Kind)
		}
		return addMembers(ctx, tx, r.ID, []string{a, b})
	})
	if err != nil {
		return Room{}, fmt.Errorf("store: direct room: %w", err)
	}
	return r, nil
}

// JoinRoom makes email a member of the room; a member already, or general,
// is no change. A room that does not exist gives an error wrapping
// ErrNoRoom, a direct room one wrapping ErrDirect.
func (p *Postgres) JoinRoom(ctx context.Context, roomID int64, email string) error {
	if roomID == GeneralID {
		return nil
	}
	tag, err := p.pool.Exec(ctx, `INSERT INTO room_members (room_id, email, joined_at)
		SELECT id, $2::text, clock_timestamp() FROM rooms WHERE id = $1 AND kind <> 'direct'
		ON CONFLICT (room_id, email) DO NOTHING`, roomID, email)
	if err != nil {
		return fmt.Errorf("store: join room: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var kind RoomKind
	var member bool
	err = p.pool.read(ctx, func(c *pgxpool.Conn) error {
		return c.QueryRow(ctx, selectJoinable, roomID, email).Scan(&kind, &member)
	})
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("store: join room: %w", err)
	}
	return whyNotJoined(roomID, err == nil, kind, member)
}

// LeaveRoom ends email's membership of the room; not a member, or no such
// room, is no change. general gives an error wrapping ErrGeneral, a direct
// room one wrapping ErrDirect.
func (p *Postgres) LeaveRoom(ctx context.Context, roomID int64, email string) error {
	if roomID == GeneralID {
		return fmt.Errorf("store: leave room: %w", ErrGeneral)
	}
	var kind RoomKind
	err := p.pool.read(ctx, func(c *pgxpool.Conn) error {
		return c.QueryRow(ctx, `SELECT kind FROM rooms WHERE id = $1`, roomID).Scan(&kind)
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("store: leave room: %w", err)
	case kind == RoomDirect:
		return fmt.Errorf("store: leave room %d: %w", roomID, ErrDirect)
	}
	if _, err := p.pool.Exec(ctx, deleteMember, roomID, email); err != nil {
		return fmt.Errorf("store: leave room: %w", err)
	}
	return nil
}

// IsMember reports whether email is a member of the room; of general,
// everyone is.
func (p *Postgres) IsMember(ctx context.Context, roomID int64, email string) (bool, error) {
	if roomID == GeneralID {
		return true, nil
	}
	var member bool
	err := p.pool.read(ctx, func(c *pgxpool.Conn) error {
		return c.QueryRow(ctx, selectIsMember, roomID, email).Scan(&member)
	})
	if err != nil {
		return false, fmt.Errorf("store: is member: %w", err)
	}
	return member, nil
}

// RoomMembers returns the room's members' emails, sorted; for general,
// whose members are everyone, nil.
func (p *Postgres) RoomMembers(ctx context.Context, roomID int64) ([]string, error) {
	if roomID == GeneralID {
		return nil, nil
	}
	var emails []string
	err := p.pool.read(ctx, func(c *pgxpool.Conn) error {
		// The rows are read to the end inside, so a lost connection
		// shows here and the read can run again.
		rows, err := c.Query(ctx, selectRoomMembers, roomID)
		if err != nil {
			return err
		}
		defer rows.Close()
		emails, err = scanEmails("room members", rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: room members: %w", err)
	}
	return emails, nil
}

// OpenRooms returns up to limit open rooms, general included, by name
// (byte order, as SQLite's, whatever the database's collation; then id).
func (p *Postgres) OpenRooms(ctx context.Context, limit int) ([]Room, error) {
	const op = "open rooms"
	if err := checkLimit(op, limit); err != nil {
		return nil, err
	}
	var rooms []Room
	err := p.pool.read(ctx, func(c *pgxpool.Conn) error {
		rows, err := c.Query(ctx, `SELECT `+postgresRoomColumns+` FROM rooms WHERE kind = 'open'
			ORDER BY name COLLATE "C", id LIMIT $1`, limit)
		if err != nil {
			return err
		}
		rooms, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Room, error) {
			var r Room
			return r, scanPostgresRoom(row, &r)
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	if rooms == nil {
		rooms = []Room{}
	}
	return rooms, nil
}

// RoomsOf returns email's rooms as their sidebar lists them: general first,
// then open and private rooms by name, then direct rooms by the other
// person; each with its unread count (see RoomState).
func (p *Postgres) RoomsOf(ctx context.Context, email string) ([]RoomState, error) {
	rooms, err := p.roomsOf(ctx, selectRoomsOfOnePostgres, email)
	return rooms[email], err
}

// RoomsOfMany is RoomsOf for each of emails, in one statement: every one
// of them is in the map, with general at least.
func (p *Postgres) RoomsOfMany(ctx context.Context, emails []string) (map[string][]RoomState, error) {
	return p.roomsOf(ctx, selectRoomsOfPostgres, emails)
}

// roomsOf runs query, one of the statements of roomsOfQuery, for who.
func (p *Postgres) roomsOf(ctx context.Context, query string, who any) (map[string][]RoomState, error) {
	var rooms map[string][]RoomState
	err := p.pool.read(ctx, func(c *pgxpool.Conn) error {
		rows, err := c.Query(ctx, query, who, MaxUnread)
		if err != nil {
			return err
		}
		defer rows.Close()
		rooms, err = scanRoomStates(rows, func(row rowScanner, r *Room, more ...any) error { return scanPostgresRoom(row, r, more...) })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: rooms of: %w", err)
	}
	return rooms, nil
}

// MarkRead records that email has read the room up to message id: their
// last_read becomes the greater of what it was and id, so a late request
// from a tab behind never moves it back. An id beyond the room's last
// message counts as its last message, so a bad id cannot hide messages to
// come. For general the row is made on demand; in another room, not a
// member is no change.
func (p *Postgres) MarkRead(ctx context.Context, roomID int64, email string, id int64) error {
	const upTo = `LEAST($3::bigint, (SELECT COALESCE(MAX(id), 0) FROM messages WHERE room_id = $1))`
	var err error
	if roomID == GeneralID {
		_, err = p.pool.Exec(ctx, `INSERT INTO room_members (room_id, email, last_read) VALUES ($1, $2, `+upTo+`)
			ON CONFLICT (room_id, email) DO UPDATE SET last_read = GREATEST(room_members.last_read, excluded.last_read)`,
			roomID, email, id)
	} else {
		_, err = p.pool.Exec(ctx, `UPDATE room_members SET last_read = GREATEST(last_read, `+upTo+`)
			WHERE room_id = $1 AND email = $2`, roomID, email, id)
	}
	if err != nil {
		return fmt.Errorf("store: mark read: %w", err)
	}
	return nil
}

// LastRead returns the id of the last message email has read in the room,
// 0 if none.
func (p *Postgres) LastRead(ctx context.Context, roomID int64, email string) (int64, error) {
	var id int64
	err := p.pool.read(ctx, func(c *pgxpool.Conn) error {
		return c.QueryRow(ctx, selectLastRead, roomID, email).Scan(&id)
	})
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("store: last read: %w", err)
	}
	return id, nil
}

// RoomMessagesAfter returns up to limit of the room's messages with id >
// afterID, oldest first.
func (p *Postgres) RoomMessagesAfter(ctx context.Context, roomID, afterID int64, limit int) ([]Message, error) {
	const op = "room messages after"
	if err := checkLimit(op, limit); err != nil {
		return nil, err
	}
	return p.readMessages(ctx, op, selectRoomMessagesAfter, roomID, afterID, limit)
}

// RoomRecentMessages returns the room's latest limit messages, oldest first.
func (p *Postgres) RoomRecentMessages(ctx context.Context, roomID int64, limit int) ([]Message, error) {
	const op = "room recent messages"
	if err := checkLimit(op, limit); err != nil {
		return nil, err
	}
	msgs, err := p.readMessages(ctx, op, selectRoomRecentMessages, roomID, limit)
	return oldestFirst(msgs), err
}

// RoomMessagesBefore returns the room's latest limit messages with id <
// beforeID, oldest first.
func (p *Postgres) RoomMessagesBefore(ctx context.Context, roomID, beforeID int64, limit int) ([]Message, error) {
	const op = "room messages before"
	if err := checkLimit(op, limit); err != nil {
		return nil, err
	}
	msgs, err := p.readMessages(ctx, op, selectRoomMessagesBefore, roomID, beforeID, limit)
	return oldestFirst(msgs), err
}
