package store

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Rooms (issue 16). The messages table stays the one log: a room is a
// column of its rows, so a message id is still global and increasing and
// Follow still carries every room. general (id 1) is made by the migration
// and holds every message from before rooms; everyone is in it without a
// row in room_members, whose general rows only keep last_read.

// RoomKind says who may see and join a room.
type RoomKind string

const (
	RoomOpen    RoomKind = "open"    // listed; anyone signed in may join
	RoomPrivate RoomKind = "private" // members invite by address
	RoomDirect  RoomKind = "direct"  // exactly two people, found by DirectSlug
)

// GeneralID and GeneralSlug are the room everyone is in.
const (
	GeneralID   int64 = 1
	GeneralSlug       = "general"
)

// MaxUnread caps a room's unread count: the sidebar shows "99+" beyond 99,
// and counting stops there, so a count costs at most that many rows however
// long someone has been away.
const MaxUnread = 100

// directPrefix starts every direct room's slug, and no other room's: a room
// named to look like a direct slug must not be found by DirectRoom.
const directPrefix = "dm-"

var (
	ErrRoomTaken = errors.New("store: a room with this slug already exists")
	ErrNoRoom    = errors.New("store: no such room")
	ErrGeneral   = errors.New("store: everyone is in general; it cannot be left")
	// ErrDirect is returned (wrapped) by JoinRoom for a third person and by
	// LeaveRoom for either of the two: a direct room is its two people's,
	// always both (RoomsOf names the other one from the membership).
	ErrDirect = errors.New("store: a direct room is its two people's; nobody joins or leaves it")
)

// Room is a room as stored.
type Room struct {
	ID        int64
	Slug      string
	Name      string // "" for a direct room
	Kind      RoomKind
	CreatedBy string // email; "" for general
	CreatedAt time.Time
}

// RoomState is one of a person's rooms as their sidebar shows it.
type RoomState struct {
	Room
	LastRead int64  // the last message id they have read in it (0: none)
	Unread   int    // messages after LastRead not sent by them, capped at MaxUnread
	Other    string // direct rooms: the other person's email; else ""
	// Newest is the room's newest message id as the count saw it (0: none):
	// a message published later with a greater id is not in Unread.
	Newest int64
}

// DirectSlug is the slug of the direct room of a and b, whichever way round
// they are given: "dm-" and the first 16 hex digits of the SHA-256 of the
// two addresses, lesser first, joined by a newline. A hash, so the URL does
// not show the addresses. The addresses are taken as they are, as every
// identity here is (sessions, members): Bob@example.com and bob@example.com
// are two people to the chat, so they must not share a room, where the
// first would be let in as a third member.
func DirectSlug(a, b string) string {
	if b < a {
		a, b = b, a
	}
	sum := sha256.Sum256([]byte(a + "\n" + b))
	return directPrefix + hex.EncodeToString(sum[:])[:16]
}

// checkNewRoom rejects a room CreateRoom must not make. A direct room is
// made by DirectRoom only, so that it always has its two people and its
// slug; a slug that looks like one is reported as taken, for the same
// reason.
func checkNewRoom(r Room) error {
	const op = "store: create room"
	switch {
	case r.Kind != RoomOpen && r.Kind != RoomPrivate:
		return fmt.Errorf("%s: kind %q: open or private (direct rooms come from DirectRoom)", op, r.Kind)
	case r.Slug == "" || r.Name == "":
		return fmt.Errorf("%s: slug %q and name %q must not be empty", op, r.Slug, r.Name)
	case r.CreatedBy == "":
		return fmt.Errorf("%s: no creator", op)
	case strings.HasPrefix(r.Slug, directPrefix):
		return fmt.Errorf("%s: %q: %w", op, r.Slug, ErrRoomTaken)
	}
	return nil
}

// checkPair rejects a direct room of one person with themselves.
func checkPair(a, b string) error {
	if a == "" || b == "" || a == b {
		return fmt.Errorf("store: direct room: %q and %q are not two people", a, b)
	}
	return nil
}

// membersOf is who CreateRoom makes members: the creator and members, each
// once, general's implicit everyone aside.
func membersOf(r Room, members []string) []string {
	all := append([]string{r.CreatedBy}, members...)
	slices.Sort(all)
	return slices.Compact(all)
}

// sortRoomStates puts a sidebar in its order: general first, then rooms with
// names (open and private together) by name, then direct rooms by the other
// person. Names compare byte by byte, as both engines' default for the
// query that lists open rooms.
func sortRoomStates(rooms []RoomState) {
	group := func(r RoomState) int {
		switch {
		case r.ID == GeneralID:
			return 0
		case r.Kind == RoomDirect:
			return 2
		}
		return 1
	}
	slices.SortFunc(rooms, func(a, b RoomState) int {
		return cmp.Or(
			cmp.Compare(group(a), group(b)),
			cmp.Compare(a.Name, b.Name),
			cmp.Compare(a.Other, b.Other),
			cmp.Compare(a.ID, b.ID),
		)
	})
}

// rowScanner is what *sql.Rows and pgx.Rows have in common.
type rowScanner interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// scanRoomStates reads the rows of a roomsOfQuery statement, from either
// engine (scanRoom reads one row's room in the engine's way, then more):
// each person's rooms, in their sidebar's order.
func scanRoomStates(rows rowScanner, scanRoom func(row rowScanner, r *Room, more ...any) error) (map[string][]RoomState, error) {
	rooms := map[string][]RoomState{}
	for rows.Next() {
		var r RoomState
		var email string
		if err := scanRoom(rows, &r.Room, &r.LastRead, &r.Unread, &r.Other, &r.Newest, &email); err != nil {
			return nil, err
		}
		rooms[email] = append(rooms[email], r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, rs := range rooms {
		sortRoomStates(rs)
	}
	return rooms, nil
}

// scanEmails reads one column of addresses, from either engine.
func scanEmails(op string, rows rowScanner) ([]string, error) {
	emails := []string{}
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			return nil, fmt.Errorf("store: %s: %w", op, err)
		}
		emails = append(emails, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	return emails, nil
}
