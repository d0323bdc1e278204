package store

import (
	"fmt"
	"strings"
)

// The room statements both engines run word for word, written with
// PostgreSQL's $n; sqliteParams turns them into SQLite's ?n, which SQLite
// reads as the same numbered parameters.

func sqliteParams(query string) string { return strings.ReplaceAll(query, "$", "?") }

// roomsOfQuery lists the rooms of the people who names (a query of one
// column, their distinct emails) with what each one's sidebar shows of
// them: general (always, last_read from its row if any), then every room
// they are a member of; the person's email is the last column, and me is
// how the statement names it (a parameter, when there is one person: SQLite
// compares that faster than a column, row after row of the unread count).
// Each unread count stops at $2 (MaxUnread) rows of the room's index on
// (room_id, id), so it costs little however far behind they are. A direct
// room names the other person; Newest is the room's newest message id.
//
// One statement serves many people: a crowd reconnecting after a restart
// reads everyone's rooms in a few statements rather than one each. The
// CROSS JOINs keep SQLite's order (each person's memberships by the email
// index, then each room by its id): without statistics it would scan every
// membership instead. PostgreSQL plans them as the inner joins they are.
func roomsOfQuery(who, me string) string {
	return `WITH who (email) AS (` + who + `),
	mine (email, room_id, last_read) AS (
		SELECT who.email, 1, COALESCE((SELECT last_read FROM room_members WHERE room_id = 1 AND email = who.email), 0) FROM who
		UNION ALL
		SELECT m.email, m.room_id, m.last_read FROM who CROSS JOIN room_members m WHERE m.email = who.email AND m.room_id <> 1
	)
	SELECT r.id, r.slug, r.name, r.kind, r.created_by, r.created_at, mine.last_read,
		(SELECT count(*) FROM (
			SELECT 1 FROM messages m
			WHERE m.room_id = r.id AND m.id > mine.last_read AND m.sender <> ` + me + `
			ORDER BY m.id LIMIT $2) AS unread),
		CASE WHEN r.kind = 'direct' THEN COALESCE((
			SELECT o.email FROM room_members o
			WHERE o.room_id = r.id AND o.email <> ` + me + ` ORDER BY o.email LIMIT 1), '') ELSE '' END,
		COALESCE((SELECT max(m.id) FROM messages m WHERE m.room_id = r.id), 0),
		mine.email
	FROM mine CROSS JOIN rooms r WHERE r.id = mine.room_id`
}

// The statements for a list of emails ($1: a text[] for PostgreSQL, a JSON
// array for SQLite), and for one ($1: the email).
var (
	selectRoomsOfPostgres    = roomsOfQuery(`SELECT DISTINCT unnest($1::text[])`, `mine.email`)
	selectRoomsOfSQLite      = sqliteParams(roomsOfQuery(`SELECT DISTINCT value FROM json_each($1) WHERE value IS NOT NULL`, `mine.email`))
	selectRoomsOfOnePostgres = roomsOfQuery(`SELECT $1::text`, `$1`)
	selectRoomsOfOneSQLite   = sqliteParams(roomsOfQuery(`SELECT $1`, `$1`))
)

const (
	selectIsMember    = `SELECT EXISTS (SELECT 1 FROM room_members WHERE room_id = $1 AND email = $2)`
	selectRoomMembers = `SELECT email FROM room_members WHERE room_id = $1 ORDER BY email`
	selectLastRead    = `SELECT last_read FROM room_members WHERE room_id = $1 AND email = $2`
	deleteMember      = `DELETE FROM room_members WHERE room_id = $1 AND email = $2`
	// selectJoinable tells why a join inserted nothing: no room, a direct
	// room, or a member already.
	selectJoinable = `SELECT r.kind, EXISTS (SELECT 1 FROM room_members WHERE room_id = r.id AND email = $2)
		FROM rooms r WHERE r.id = $1`

	// The room's page of the log. $1 is the room.
	selectRoomMessagesAfter  = `SELECT ` + messageColumns + ` FROM messages WHERE room_id = $1 AND id > $2 ORDER BY id LIMIT $3`
	selectRoomRecentMessages = `SELECT ` + messageColumns + ` FROM messages WHERE room_id = $1 ORDER BY id DESC LIMIT $2`
	selectRoomMessagesBefore = `SELECT ` + messageColumns + ` FROM messages WHERE room_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`
	// selectRoomCountAfter stops counting at $3 rows of the index.
	selectRoomCountAfter = `SELECT count(*) FROM (SELECT 1 FROM messages WHERE room_id = $1 AND id > $2 ORDER BY id LIMIT $3) AS after`
)

// whyNotJoined is JoinRoom's answer when its insert did nothing: found,
// kind and member are what selectJoinable read.
func whyNotJoined(roomID int64, found bool, kind RoomKind, member bool) error {
	switch {
	case !found:
		return fmt.Errorf("store: join room %d: %w", roomID, ErrNoRoom)
	case member:
		return nil // joined already
	case kind == RoomDirect:
		return fmt.Errorf("store: join room %d: %w", roomID, ErrDirect)
	}
	// The insert skips only direct rooms and members; neither holds now,
	// and neither changes once true.
	return fmt.Errorf("store: join room %d: not joined, for no known reason", roomID)
}
