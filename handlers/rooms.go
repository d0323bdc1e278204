package handlers

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"golang.org/x/text/unicode/norm"

	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/views"
)

// RoomStore keeps the rooms, who is in them and what each person has read
// of them.
type RoomStore interface {
	CreateRoom(ctx context.Context, r store.Room, members []string) (store.Room, error)
	Room(ctx context.Context, slug string) (store.Room, error)
	DirectRoom(ctx context.Context, a, b string) (store.Room, error)
	JoinRoom(ctx context.Context, roomID int64, email string) error
	LeaveRoom(ctx context.Context, roomID int64, email string) error
	IsMember(ctx context.Context, roomID int64, email string) (bool, error)
	RoomMembers(ctx context.Context, roomID int64) ([]string, error)
	OpenRooms(ctx context.Context, limit int) ([]store.Room, error)
	RoomsOf(ctx context.Context, email string) ([]store.RoomState, error)
	MarkRead(ctx context.Context, roomID int64, email string, id int64) error
}

// general is the room everyone is in: the chat as it was before rooms, at
// the URLs it had (/, /messages, /events).
var general = store.Room{ID: store.GeneralID, Slug: store.GeneralSlug, Name: store.GeneralSlug, Kind: store.RoomOpen}

const (
	// maxRoomName is the longest room name, in characters.
	maxRoomName = 80
	// maxSlugBytes bounds a room's URL slug.
	maxSlugBytes = 60
	// browseRooms is how many open rooms the sidebar offers to join.
	browseRooms = 50
)

// The sentences for what rooms refuse.
const (
	noRoom = "There is no such room, or you are not in it."
	// needsVerified is why SIGN_IN=open has no private rooms or direct
	// messages: anyone may join as any address, so "only these people"
	// would mean nothing.
	needsVerified = "Private rooms and direct messages need a verified address: they are available when Chatzilla signs people in by email."
)

// roomFormKey is where a refused room form waits for the page that shows
// it again, with the reason.
const roomFormKey = "chatzilla.roomForm"

// roomKey is where roomOf keeps the room it found, for the rest of the
// request (the page shown after a refused post, for one).
const roomKey = "chatzilla.room"

// roomOf is the room the request is about: general for the routes from
// before rooms and for /rooms/general, else the room its slug names, if
// the reader may see it. A private or direct room they are not in is 404,
// like one that does not exist: its existence is not revealed.
func (s *server) roomOf(c echo.Context, me member) (store.Room, error) {
	if r, ok := c.Get(roomKey).(store.Room); ok {
		return r, nil
	}
	slug := c.Param("slug")
	if slug == "" || slug == store.GeneralSlug {
		c.Set(roomKey, general)
		return general, nil
	}
	ctx := c.Request().Context()
	r, err := s.rooms.get(ctx, s.Rooms, slug)
	switch {
	case errors.Is(err, store.ErrNoRoom):
		return store.Room{}, problem(http.StatusNotFound, noRoom)
	case err != nil:
		return store.Room{}, storeUnavailable(err, "Chatzilla can't open this room right now. Try again in a moment.")
	}
	if r.Kind != store.RoomOpen {
		in, err := s.Rooms.IsMember(ctx, r.ID, me.Email)
		if err != nil {
			return store.Room{}, storeUnavailable(err, "Chatzilla can't open this room right now. Try again in a moment.")
		}
		if !in {
			return store.Room{}, problem(http.StatusNotFound, noRoom)
		}
		// Only to a member, so that the answer does not tell a room that
		// exists from one that does not.
		if !s.EmailSignIn {
			return store.Room{}, problem(http.StatusForbidden, needsVerified)
		}
	}
	c.Set(roomKey, r)
	return r, nil
}

// requestRoom is the room roomOf found for this request, general if none.
func requestRoom(c echo.Context) store.Room {
	if r, ok := c.Get(roomKey).(store.Room); ok {
		return r
	}
	return general
}

// roomURL is where a room is shown: general keeps /.
func roomURL(r store.Room) string { return roomLink(r, "").URL() }

// joinedMember is the reader of a request that needs them to have joined.
func (s *server) joinedMember(c echo.Context, action string) (member, error) {
	me, joined, err := s.member(c)
	if err != nil {
		return member{}, err
	}
	if !joined {
		return member{}, problem(http.StatusUnauthorized, "Join the chat to "+action+".")
	}
	return me, nil
}

// showRoom is a room's page: GET /rooms/{slug}.
func (s *server) showRoom(c echo.Context) error {
	c.Response().Header().Add("Vary", "Cookie")
	me, joined, err := s.member(c)
	if err != nil {
		return err
	}
	if !joined {
		return seeOther(c, "/")
	}
	if _, err := s.roomOf(c, me); err != nil {
		return err
	}
	return s.chat(c, me)
}

// createRoom makes a room from the sidebar's form: POST /rooms with name
// and kind. The person who makes it is its first member.
func (s *server) createRoom(c echo.Context) error {
	name, err := formValue(c, "name")
	if err != nil {
		return err
	}
	me, err := s.joinedMember(c, "make a room")
	if err != nil {
		return err
	}
	kind := store.RoomKind(cmp.Or(c.FormValue("kind"), string(store.RoomOpen)))
	refuse := func(status int, reason string) error {
		c.Set(roomFormKey, views.RoomForm{Name: name, Kind: string(kind), Error: reason})
		composer := s.newComposer()
		composer.Autofocus = false
		return s.renderChat(c, status, me.Email, composer)
	}
	switch kind {
	case store.RoomOpen:
	case store.RoomPrivate:
		if !s.EmailSignIn {
			return problem(http.StatusForbidden, needsVerified)
		}
	default:
		return refuse(http.StatusUnprocessableEntity, "A room is open (anyone may join) or private (members invite others).")
	}
	name, reason := validateRoomName(name)
	if reason != "" {
		return refuse(http.StatusUnprocessableEntity, reason)
	}
	if wait := s.tooManyRooms(c, me); wait > 0 {
		return refuse(http.StatusTooManyRequests, "You're making rooms too fast. Wait "+plural(wait, "second")+" and try again.")
	}
	slug := slugOf(name)
	if slug == store.GeneralSlug || strings.HasPrefix(slug, "dm-") {
		return refuse(http.StatusUnprocessableEntity, fmt.Sprintf("The name %q is taken. Pick another.", name))
	}
	if kind == store.RoomPrivate {
		// A private room's slug has a random end: it is not in the open
		// rooms' name space, so making a room never tells anyone that a
		// private one of that name exists, and its URL cannot be guessed.
		slug = strings.TrimSuffix(slug[:min(len(slug), maxSlugBytes-9)], "-") + "-" + strings.ToLower(rand.Text()[:8])
	}
	r, err := s.Rooms.CreateRoom(c.Request().Context(), store.Room{Slug: slug, Name: name, Kind: kind, CreatedBy: me.Email}, nil)
	switch {
	case errors.Is(err, store.ErrRoomTaken):
		return refuse(http.StatusUnprocessableEntity, fmt.Sprintf("There is already a room called %q. Pick another name, or find it under Browse rooms.", name))
	case err != nil:
		return storeUnavailable(err, "The room was not made: Chatzilla can't reach its database right now. Try again in a moment.")
	}
	s.Logger.Info("room created", "room", r.Slug, "kind", r.Kind, "by", me.Email)
	s.Live.Announce(c.Request().Context(), store.Change{Email: me.Email, Room: r.ID, Members: true})
	return seeOther(c, roomURL(r))
}

// joinRoom makes the reader a member of an open room.
func (s *server) joinRoom(c echo.Context) error {
	me, err := s.joinedMember(c, "join a room")
	if err != nil {
		return err
	}
	r, err := s.roomOf(c, me)
	if err != nil {
		return err
	}
	if wait := s.tooFast(c, s.roomFlood, "session:"+me.SessionID); wait > 0 {
		return slowDown("joining and leaving rooms", wait)
	}
	if err := s.addMember(c, r, me.Email); err != nil {
		return err
	}
	return seeOther(c, roomURL(r))
}

// addMember adds email to r, and tells the live path.
func (s *server) addMember(c echo.Context, r store.Room, email string) error {
	if r.ID == store.GeneralID {
		return nil
	}
	if err := s.Rooms.JoinRoom(c.Request().Context(), r.ID, email); err != nil {
		return storeUnavailable(err, "Chatzilla can't add you to the room right now. Try again in a moment.")
	}
	s.Live.Announce(c.Request().Context(), store.Change{Email: email, Room: r.ID, Members: true})
	return nil
}

// leaveRoom takes the reader out of a room (not general).
func (s *server) leaveRoom(c echo.Context) error {
	me, err := s.joinedMember(c, "leave a room")
	if err != nil {
		return err
	}
	r, err := s.roomOf(c, me)
	if err != nil {
		return err
	}
	if r.ID == store.GeneralID {
		return problem(http.StatusUnprocessableEntity, "Everyone is in general: it can't be left.")
	}
	if wait := s.tooFast(c, s.roomFlood, "session:"+me.SessionID); wait > 0 {
		return slowDown("joining and leaving rooms", wait)
	}
	err = s.Rooms.LeaveRoom(c.Request().Context(), r.ID, me.Email)
	switch {
	case errors.Is(err, store.ErrDirect):
		return problem(http.StatusUnprocessableEntity, "A direct conversation stays between its two people: it can't be left.")
	case err != nil:
		return storeUnavailable(err, "You are still in the room: Chatzilla can't reach its database right now. Try again in a moment.")
	}
	s.Live.Announce(c.Request().Context(), store.Change{Email: me.Email, Room: r.ID, Members: true})
	return seeOther(c, "/")
}

// invite adds someone to a private room the reader is in.
func (s *server) invite(c echo.Context) error {
	raw, err := formValue(c, "email")
	if err != nil {
		return err
	}
	me, err := s.joinedMember(c, "invite people")
	if err != nil {
		return err
	}
	r, err := s.roomOf(c, me)
	if err != nil {
		return err
	}
	if r.Kind != store.RoomPrivate {
		return problem(http.StatusUnprocessableEntity, "Only private rooms have invitations: anyone may join an open room.")
	}
	email, reason := validateEmail(raw)
	if reason != "" {
		return problem(http.StatusUnprocessableEntity, reason)
	}
	if wait := s.tooManyRooms(c, me); wait > 0 {
		return slowDown("inviting people", wait)
	}
	if err := s.addMember(c, r, email); err != nil {
		return err
	}
	s.Logger.Info("invited", "room", r.Slug, "by", me.Email)
	return seeOther(c, roomURL(r))
}

// directMessage opens the direct room of the reader and the address in the
// form, making it the first time: POST /dm.
func (s *server) directMessage(c echo.Context) error {
	raw, err := formValue(c, "email")
	if err != nil {
		return err
	}
	me, err := s.joinedMember(c, "message someone")
	if err != nil {
		return err
	}
	if !s.EmailSignIn {
		return problem(http.StatusForbidden, needsVerified)
	}
	email, reason := validateEmail(raw)
	if reason != "" {
		return problem(http.StatusUnprocessableEntity, reason)
	}
	if email == me.Email {
		return problem(http.StatusUnprocessableEntity, "That is your own address: a direct message is between you and someone else.")
	}
	// Opening a conversation that exists costs nothing; starting one
	// counts as making a room.
	if _, err := s.rooms.get(c.Request().Context(), s.Rooms, store.DirectSlug(me.Email, email)); errors.Is(err, store.ErrNoRoom) {
		if wait := s.tooManyRooms(c, me); wait > 0 {
			return slowDown("starting conversations", wait)
		}
	}
	r, err := s.Rooms.DirectRoom(c.Request().Context(), me.Email, email)
	if err != nil {
		return storeUnavailable(err, "Chatzilla can't open the conversation right now. Try again in a moment.")
	}
	for _, who := range []string{me.Email, email} {
		s.Live.Announce(c.Request().Context(), store.Change{Email: who, Room: r.ID, Members: true})
	}
	return seeOther(c, roomURL(r))
}

// markRead records that the reader has seen the room's messages up to the
// id in the form: the page's script sends it while the page is visible.
func (s *server) markRead(c echo.Context) error {
	raw, err := formValue(c, "id")
	if err != nil {
		return err
	}
	me, err := s.joinedMember(c, "read the room")
	if err != nil {
		return err
	}
	r, err := s.roomOf(c, me)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 {
		return problem(http.StatusBadRequest, "id must be a message id (a whole number above 0).")
	}
	if wait := s.tooFast(c, s.readFlood, "session:"+me.SessionID); wait > 0 {
		return problem(http.StatusTooManyRequests, "Too many reports of what you read. Wait "+plural(wait, "second")+".")
	}
	if err := s.Rooms.MarkRead(c.Request().Context(), r.ID, me.Email, id); err != nil {
		return storeUnavailable(err, "Chatzilla can't record what you read right now.")
	}
	s.Live.Announce(c.Request().Context(), store.Change{Email: me.Email, Room: r.ID})
	return c.NoContent(http.StatusNoContent)
}

// slowDown is the answer to someone doing something too fast (429, with
// the Retry-After tooFast set).
func slowDown(doing string, wait int) error {
	return problem(http.StatusTooManyRequests, "You're "+doing+" too fast. Wait "+plural(wait, "second")+" and try again.")
}

// tooManyRooms takes a token for making or opening a room from the
// session's bucket and its address's, and returns the seconds to wait when
// one is empty (0: go ahead).
func (s *server) tooManyRooms(c echo.Context, me member) int {
	if wait := s.tooFast(c, s.roomFlood, "session:"+me.SessionID); wait > 0 {
		return wait
	}
	return s.tooFast(c, s.addressRoomFlood, clientKey(c))
}

// validateRoomName returns the name to keep, or a sentence saying what is
// wrong with it. Like a message, a name must show as something, and it may
// not carry control or direction-changing characters, which would disguise
// it in everyone's sidebar.
func validateRoomName(raw string) (string, string) {
	if !utf8.ValidString(raw) {
		return "", "That name contains characters that are not text."
	}
	// NFKC: a name in full-width or mathematical letters is the name it
	// looks like, so it is taken when that one is.
	name := norm.NFKC.String(strings.Join(strings.Fields(raw), " "))
	switch {
	case name == "":
		return "", "Give the room a name."
	case utf8.RuneCountInString(name) > maxRoomName:
		return "", fmt.Sprintf("That name is too long: %d characters, the limit is %d.", utf8.RuneCountInString(name), maxRoomName)
	case strings.IndexFunc(name, func(r rune) bool { return r != ' ' && hidden(r) }) >= 0:
		return "", "Room names can't contain invisible or direction-changing characters."
	case slugOf(name) == "":
		return "", "A room's name needs at least one letter or digit."
	case anyMixed(name):
		return "", "That name mixes look-alike letters from different alphabets in one word. Type it again by hand."
	}
	return name, ""
}

// anyMixed reports whether a word of name mixes scripts (a Cyrillic е in
// "gеneral"), which is how one room's name would pass for another's.
func anyMixed(name string) bool {
	for _, w := range strings.FieldsFunc(name, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsMark(r) }) {
		if mixedScripts(w) {
			return true
		}
	}
	return false
}

// slugOf is the URL of a room named name: its letters and digits,
// lowercased, with a dash for each run of anything else ("Team Alpha!" is
// team-alpha).
func slugOf(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			dash = true
			continue
		}
		if b.Len()+utf8.RuneLen(r)+1 > maxSlugBytes {
			break
		}
		if dash && b.Len() > 0 {
			b.WriteByte('-')
		}
		dash = false
		b.WriteRune(r)
	}
	return b.String()
}

// maxKnownRooms bounds the rooms knownRooms keeps.
const maxKnownRooms = 10000

// knownRooms keeps the rooms found by slug: a room never changes its slug,
// name or kind, so every post and stream of a room need not read it again.
// Slugs that name no room are not kept (a room may be made under one).
type knownRooms struct {
	mu    sync.RWMutex
	rooms map[string]store.Room
}

func (k *knownRooms) get(ctx context.Context, st RoomStore, slug string) (store.Room, error) {
	k.mu.RLock()
	r, ok := k.rooms[slug]
	k.mu.RUnlock()
	if ok {
		return r, nil
	}
	r, err := st.Room(ctx, slug)
	if err != nil {
		return store.Room{}, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.rooms == nil || len(k.rooms) >= maxKnownRooms {
		k.rooms = make(map[string]store.Room)
	}
	k.rooms[slug] = r
	return r, nil
}
