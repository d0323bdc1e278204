package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Room writes go through the writer's one connection, between group
// commits, as session writes do. Its transactions begin IMMEDIATE, so a
// find-or-create (DirectRoom) holds the write lock from its read to its
// insert, and two instances of it cannot both create.

const sqliteRoomColumns = "id, slug, name, kind, created_by, created_at"

// scanSQLiteRoom reads sqliteRoomColumns into r, then the rest into more.
func scanSQLiteRoom(row interface{ Scan(...any) error }, r *Room, more ...any) error {
	var micros int64
	if err := row.Scan(append([]any{&r.ID, &r.Slug, &r.Name, &r.Kind, &r.CreatedBy, &micros}, more...)...); err != nil {
		return err
	}
	r.CreatedAt = time.UnixMicro(micros).UTC()
	return nil
}

// CreateRoom makes an open or private room with r's slug, name, kind and
// creator, whose members are the creator and members, in one transaction.
// A slug in use (general's included, and any that looks like a direct
// room's) gives an error wrapping ErrRoomTaken. It returns the room as
// stored.
func (s *SQLite) CreateRoom(ctx context.Context, r Room, members []string) (Room, error) {
	if err := checkNewRoom(r); err != nil {
		return Room{}, err
	}
	r.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		// A slug in use makes the insert do nothing and return no row.
		err := tx.QueryRowContext(ctx, `INSERT INTO rooms (slug, name, kind, created_by, created_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (slug) DO NOTHING RETURNING id`,
			r.Slug, r.Name, string(r.Kind), r.CreatedBy, r.CreatedAt.UnixMicro()).Scan(&r.ID)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%q: %w", r.Slug, ErrRoomTaken)
		}
		if err != nil {
			return err
		}
		return s.addMembers(ctx, tx, r.ID, membersOf(r, members), r.CreatedAt)
	})
	if err != nil {
		return Room{}, fmt.Errorf("store: create room: %w", err)
	}
	return r, nil
}

// addMembers makes emails members of the room, those who are not already.
func (s *SQLite) addMembers(ctx context.Context, tx *sql.Tx, roomID int64, emails []string, now time.Time) error {
	for _, e := range emails {
		if _, err := tx.ExecContext(ctx, `INSERT INTO room_members (room_id, email, joined_at) VALUES (?, ?, ?)
			ON CONFLICT (room_id, email) DO NOTHING`, roomID, e, now.UnixMicro()); err != nil {
			return err
		}
	}
	return nil
}

// writeTx runs fn in a transaction on the writer and commits it.
func (s *SQLite) writeTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// Room returns the room with the given slug, or an error wrapping ErrNoRoom.
func (s *SQLite) Room(ctx context.Context, slug string) (Room, error) {
	var r Room
	err := scanSQLiteRoom(s.reads.QueryRowContext(ctx, `SELECT `+sqliteRoomColumns+` FROM rooms WHERE slug = ?`, slug), &r)
	if errors.Is(err, sql.ErrNoRows) {
		return Room{}, fmt.Errorf("store: room %q: %w", slug, ErrNoRoom)
	}
	if err != nil {
		return Room{}, fmt.Errorf("store: room: %w", err)
	}
	return r, nil
}

// DirectRoom returns the direct room of a and b, made (by a) with both as
// members if there is none yet. Calls for the same pair at once, on any
// process, end with one room: the writer's transaction holds the write lock
// from the insert to the read.
func (s *SQLite) DirectRoom(ctx context.Context, a, b string) (Room, error) {
	if err := checkPair(a, b); err != nil {
		return Room{}, err
	}
	slug := DirectSlug(a, b)
	var r Room
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		now := time.Now().UTC().Truncate(time.Microsecond)
		if _, err := tx.ExecContext(ctx, `INSERT INTO rooms (slug, name, kind, created_by, created_at) VALUES (?, '', 'direct', ?, ?)
			ON CONFLICT (slug) DO NOTHING`, slug, a, now.UnixMicro()); err != nil {
			return err
		}
		if err := scanSQLiteRoom(tx.QueryRowContext(ctx, `SELECT `+sqliteRoomColumns+` FROM rooms WHERE slug = ?`, slug), &r); err != nil {
			return err
		}
		if r.Kind != RoomDirect { // CreateRoom refuses such slugs; a database edited by hand
			return fmt.Errorf("slug %q is a %s room's", slug, r.Kind)
		}
		return s.addMembers(ctx, tx, r.ID, []string{a, b}, now)
	})
	if err != nil {
		return Room{}, fmt.Errorf("store: direct room: %w", err)
	}
	return r, nil
}

// JoinRoom makes email a member of the room; a member already, or general,
// is no change. A room that does not exist gives an error wrapping
// ErrNoRoom, a direct room one wrapping ErrDirect.
func (s *SQLite) JoinRoom(ctx context.Context, roomID int64, email string) error {
	if roomID == GeneralID {
		return nil
	}
	res, err := s.writer.ExecContext(ctx, `INSERT INTO room_members (room_id, email, joined_at)
		SELECT id, ?, ? FROM rooms WHERE id = ? AND kind <> 'direct'
		ON CONFLICT (room_id, email) DO NOTHING`, email, time.Now().UnixMicro(), roomID)
	if err != nil {
		return fmt.Errorf("store: join room: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: join room: %w", err)
	}
	if n == 1 {
		return nil
	}
	var kind RoomKind
	var member bool
	err = s.reads.QueryRowContext(ctx, sqliteParams(selectJoinable), roomID, email).Scan(&kind, &member)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: join room: %w", err)
	}
	return whyNotJoined(roomID, err == nil, kind, member)
}

// LeaveRoom ends email's membership of the room; not a member, or no such
// room, is no change. general gives an error wrapping ErrGeneral, a direct
// room one wrapping ErrDirect.
func (s *SQLite) LeaveRoom(ctx context.Context, roomID int64, email string) error {
	if roomID == GeneralID {
		return fmt.Errorf("store: leave room: %w", ErrGeneral)
	}
	var kind RoomKind
	err := s.reads.QueryRowContext(ctx, `SELECT kind FROM rooms WHERE id = ?`, roomID).Scan(&kind)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("store: leave room: %w", err)
	case kind == RoomDirect:
		return fmt.Errorf("store: leave room %d: %w", roomID, ErrDirect)
	}
	if _, err := s.writer.ExecContext(ctx, sqliteParams(deleteMember), roomID, email); err != nil {
		return fmt.Errorf("store: leave room: %w", err)
	}
	return nil
}

// IsMember reports whether email is a member of the room; of general,
// everyone is.
func (s *SQLite) IsMember(ctx context.Context, roomID int64, email string) (bool, error) {
	if roomID == GeneralID {
		return true, nil
	}
	var member bool
	if err := s.reads.QueryRowContext(ctx, sqliteParams(selectIsMember), roomID, email).Scan(&member); err != nil {
		return false, fmt.Errorf("store: is member: %w", err)
	}
	return member, nil
}

// RoomMembers returns the room's members' emails, sorted; for general,
// whose members are everyone, nil.
func (s *SQLite) RoomMembers(ctx context.Context, roomID int64) ([]string, error) {
	if roomID == GeneralID {
		return nil, nil
	}
	rows, err := s.reads.QueryContext(ctx, sqliteParams(selectRoomMembers), roomID)
	if err != nil {
		return nil, fmt.Errorf("store: room members: %w", err)
	}
	defer rows.Close()
	return scanEmails("room members", rows)
}

// OpenRooms returns up to limit open rooms, general included, by name
// (byte order, then id).
func (s *SQLite) OpenRooms(ctx context.Context, limit int) ([]Room, error) {
	const op = "open rooms"
	if err := checkLimit(op, limit); err != nil {
		return nil, err
	}
	rows, err := s.reads.QueryContext(ctx, `SELECT `+sqliteRoomColumns+` FROM rooms WHERE kind = 'open' ORDER BY name, id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	defer rows.Close()
	rooms := []Room{}
	for rows.Next() {
		var r Room
		if err := scanSQLiteRoom(rows, &r); err != nil {
			return nil, fmt.Errorf("store: %s: %w", op, err)
		}
		rooms = append(rooms, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	return rooms, nil
}

// RoomsOf returns email's rooms as their sidebar lists them: general first,
// then open and private rooms by name, then direct rooms by the other
// person; each with its unread count (see RoomState).
func (s *SQLite) RoomsOf(ctx context.Context, email string) ([]RoomState, error) {
	rooms, err := s.roomsOf(ctx, selectRoomsOfOneSQLite, email)
	return rooms[email], err
}

// RoomsOfMany is RoomsOf for each of emails, in one statement: every one
// of them is in the map, with general at least.
func (s *SQLite) RoomsOfMany(ctx context.Context, emails []string) (map[string][]RoomState, error) {
	list, err := json.Marshal(emails)
	if err != nil {
		return nil, fmt.Errorf("store: rooms of: %w", err)
	}
	return s.roomsOf(ctx, selectRoomsOfSQLite, string(list))
}

// roomsOf runs query, one of the statements of roomsOfQuery, for who.
func (s *SQLite) roomsOf(ctx context.Context, query string, who any) (map[string][]RoomState, error) {
	rows, err := s.reads.QueryContext(ctx, query, who, MaxUnread)
	if err != nil {
		return nil, fmt.Errorf("store: rooms of: %w", err)
	}
	defer rows.Close()
	rooms, err := scanRoomStates(rows, func(row rowScanner, r *Room, more ...any) error { return scanSQLiteRoom(row, r, more...) })
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
func (s *SQLite) MarkRead(ctx context.Context, roomID int64, email string, id int64) error {
	const upTo = `min(?3, (SELECT COALESCE(MAX(id), 0) FROM messages WHERE room_id = ?1))`
	var err error
	if roomID == GeneralID {
		_, err = s.writer.ExecContext(ctx, `INSERT INTO room_members (room_id, email, last_read, joined_at) VALUES (?1, ?2, `+upTo+`, ?4)
			ON CONFLICT (room_id, email) DO UPDATE SET last_read = max(last_read, excluded.last_read)`,
			roomID, email, id, time.Now().UnixMicro())
	} else {
		_, err = s.writer.ExecContext(ctx, `UPDATE room_members SET last_read = max(last_read, `+upTo+`)
			WHERE room_id = ?1 AND email = ?2`, roomID, email, id)
	}
	if err != nil {
		return fmt.Errorf("store: mark read: %w", err)
	}
	return nil
}

// LastRead returns the id of the last message email has read in the room,
// 0 if none.
func (s *SQLite) LastRead(ctx context.Context, roomID int64, email string) (int64, error) {
	var id int64
	err := s.reads.QueryRowContext(ctx, sqliteParams(selectLastRead), roomID, email).Scan(&id)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("store: last read: %w", err)
	}
	return id, nil
}

// RoomMessagesAfter returns up to limit of the room's messages with id >
// afterID, oldest first.
func (s *SQLite) RoomMessagesAfter(ctx context.Context, roomID, afterID int64, limit int) ([]Message, error) {
	const op = "room messages after"
	if err := checkLimit(op, limit); err != nil {
		return nil, err
	}
	return s.query(ctx, op, sqliteParams(selectRoomMessagesAfter), roomID, afterID, limit)
}

// RoomRecentMessages returns the room's latest limit messages, oldest first.
func (s *SQLite) RoomRecentMessages(ctx context.Context, roomID int64, limit int) ([]Message, error) {
	const op = "room recent messages"
	if err := checkLimit(op, limit); err != nil {
		return nil, err
	}
	msgs, err := s.query(ctx, op, sqliteParams(selectRoomRecentMessages), roomID, limit)
	return oldestFirst(msgs), err
}

// RoomMessagesBefore returns the room's latest limit messages with id <
// beforeID, oldest first.
func (s *SQLite) RoomMessagesBefore(ctx context.Context, roomID, beforeID int64, limit int) ([]Message, error) {
	const op = "room messages before"
	if err := checkLimit(op, limit); err != nil {
		return nil, err
	}
	msgs, err := s.query(ctx, op, sqliteParams(selectRoomMessagesBefore), roomID, beforeID, limit)
	return oldestFirst(msgs), err
}
