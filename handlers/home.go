package handlers

import (
	"context"
	"net/http"
	"slices"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/views"
)

// home shows the join form or, to someone who has joined, the chat in
// general: the latest messages, or with ?before=ID the page of messages
// before ID (as a fragment for htmx's "Load older messages", as a page
// without JavaScript).
func (s *server) home(c echo.Context) error {
	// The same URL is the join form or someone's chat, by session cookie.
	c.Response().Header().Add("Vary", "Cookie")
	me, joined, err := s.member(c)
	if err != nil {
		return err
	}
	if !joined {
		// The same for everyone, but checked each time: a visitor who has
		// just joined must not be shown the form from cache.
		c.Response().Header().Set("Cache-Control", "no-cache")
		return render(c, http.StatusOK, views.JoinPage(s.page, views.JoinForm{DraftKept: hasDraft(c), EmailSignIn: s.EmailSignIn}))
	}
	return s.chat(c, me)
}

// chat is a room's page (the room roomOf found): its latest messages, or
// with ?before=ID the page of messages before ID.
func (s *server) chat(c echo.Context, me member) error {
	if c.QueryParam("before") == "" {
		composer := s.newComposer()
		composer.Text = s.takeDraft(c)
		return s.renderChat(c, http.StatusOK, me.Email, composer)
	}
	before, err := strconv.ParseInt(c.QueryParam("before"), 10, 64)
	if err != nil || before < 1 {
		return problem(http.StatusBadRequest, "before must be a message id (a whole number above 0).")
	}
	room := requestRoom(c)
	h, err := s.history(c.Request().Context(), room, before, me.Email)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "private, no-cache")
	if isHTMX(c) {
		return render(c, http.StatusOK, views.HistoryItems(h))
	}
	chat, _ := s.chatView(c, me.Email, room, h)
	chat.Archive = true
	chat.Composer = views.Composer{Key: newKey(), MaxLength: s.MaxMessageLength, Action: composerAction(room)}
	return render(c, http.StatusOK, views.ChatPage(s.page, chat))
}

// renderChat is the page of the request's room with its latest messages.
// Loading it counts as reading them.
func (s *server) renderChat(c echo.Context, status int, me string, composer views.Composer) error {
	room := requestRoom(c)
	ctx := c.Request().Context()
	h, err := s.history(ctx, room, 0, me)
	if err != nil {
		return err
	}
	// The page must not be cached: its stream starts after the last message
	// it shows, and a stale copy would start from a stale point.
	c.Response().Header().Set("Cache-Control", "no-store")
	composer.MaxLength = s.MaxMessageLength
	composer.Action = composerAction(room)
	chat, lastRead := s.chatView(c, me, room, h)
	chat.Composer = composer
	if n := len(h.Messages); n > 0 && h.Messages[n-1].ID > lastRead && chat.Joined && status == http.StatusOK {
		if err := s.Rooms.MarkRead(ctx, room.ID, me, h.Messages[n-1].ID); err != nil {
			s.Logger.Warn("recording what someone read", "room", room.Slug, "err", err)
		} else {
			s.Live.Announce(ctx, store.Change{Email: me, Room: room.ID})
		}
	}
	return render(c, status, views.ChatPage(s.page, chat))
}

// composerAction is where a room's composer posts: general keeps
// /messages.
func composerAction(r store.Room) string {
	if r.ID == store.GeneralID {
		return "/messages"
	}
	return roomURL(r) + "/messages"
}

// chatView is the page of room with history h, as me sees it: the sidebar
// with their rooms and unread counts, the line above the first message
// new since their last visit, who of the room is online; and the last
// message of the room they had read. Without the sidebar's data (the store
// failed) the page still shows the room.
func (s *server) chatView(c echo.Context, me string, room store.Room, h views.History) (chat views.Chat, lastRead int64) {
	ctx := c.Request().Context()
	states, err := s.Rooms.RoomsOf(ctx, me)
	if err != nil {
		s.Logger.Warn("reading someone's rooms", "err", err)
		states = []store.RoomState{{Room: general}}
	}
	if !s.EmailSignIn {
		// Anyone may join as anyone: the private rooms and direct
		// conversations of an address (made when sign-in was by email)
		// are not shown, not even their names.
		states = slices.DeleteFunc(states, func(st store.RoomState) bool { return st.Kind != store.RoomOpen })
	}
	chat = views.Chat{
		Me:         me,
		Messages:   h.Messages,
		HasOlder:   h.HasOlder,
		Unverified: !s.EmailSignIn,
		Room:       roomLink(room, ""),
		Joined:     room.ID == store.GeneralID,
	}
	var others []string
	for _, st := range states {
		if st.Other != "" {
			others = append(others, st.Other)
		}
	}
	online := slices.Clone(s.Live.Roster().Online())
	// The reader is online: their stream (or, without JavaScript, their
	// page's visit) is on its way, and the roster lists them a tick later.
	if i, found := slices.BinarySearch(online, me); !found {
		online = slices.Insert(online, i, me)
	}
	names := s.names(ctx, append(others, online[:min(len(online), views.MaxPeopleShown)]...))
	for _, st := range states {
		link := roomLink(st.Room, st.Other)
		link.OtherName = names[st.Other]
		if st.ID == room.ID {
			chat.Joined = true
			link.Current = true
			chat.Room = link
			chat.NewSince = newSince(h.Messages, st.LastRead, me)
			lastRead = st.LastRead
		} else {
			link.Unread = st.Unread
			chat.UnreadTotal += st.Unread
		}
		chat.Sidebar.Rooms = append(chat.Sidebar.Rooms, link)
	}
	chat.Sidebar.Private = s.EmailSignIn
	if f, ok := c.Get(roomFormKey).(views.RoomForm); ok {
		chat.Sidebar.Create = f
	}
	if open, err := s.Rooms.OpenRooms(ctx, browseRooms); err != nil {
		s.Logger.Warn("reading the open rooms", "err", err)
	} else {
		mine := map[int64]bool{}
		for _, st := range states {
			mine[st.ID] = true
		}
		for _, r := range open {
			if !mine[r.ID] {
				chat.Sidebar.Browse = append(chat.Sidebar.Browse, roomLink(r, ""))
			}
		}
	}
	if room.ID != store.GeneralID {
		members, err := s.Rooms.RoomMembers(ctx, room.ID)
		if err != nil {
			s.Logger.Warn("reading a room's members", "room", room.Slug, "err", err)
		}
		in := map[string]bool{}
		for _, m := range members {
			in[m] = true
		}
		if room.Kind == store.RoomPrivate {
			chat.Members = members
			chat.CanInvite = chat.Joined
		}
		online = slices.DeleteFunc(online, func(e string) bool { return !in[e] })
	}
	chat.Online = online
	chat.Names = names
	return chat, lastRead
}

// roomLink is how the views show a room.
func roomLink(r store.Room, other string) views.RoomLink {
	return views.RoomLink{ID: r.ID, Slug: r.Slug, Name: r.Name, Kind: string(r.Kind), Other: other}
}

// newSince is the id of the first message in ms after lastRead that the
// reader did not send: the "new since your last visit" line goes above it.
// 0 (no line) on a first visit, when everything is new.
func newSince(ms []views.Message, lastRead int64, me string) int64 {
	if lastRead == 0 {
		return 0
	}
	for _, m := range ms {
		if m.ID > lastRead && m.Sender != me {
			return m.ID
		}
	}
	return 0
}

// names are the display names of the people "who's online" lists; without
// them (the store failed) it lists addresses, and the page is still shown.
func (s *server) names(ctx context.Context, emails []string) map[string]string {
	names, err := s.People.DisplayNames(ctx, emails)
	if err != nil {
		s.Logger.Warn("reading display names for who's online", "err", err)
	}
	return names
}

// history is a page of HistorySize messages of room before the message
// before, or the latest ones when before is 0, as the reader me sees them.
// It reads one more than it shows to know whether there are older ones, and
// that one is also what the first message shown follows on from.
func (s *server) history(ctx context.Context, room store.Room, before int64, me string) (views.History, error) {
	var ms []store.Message
	var err error
	if before > 0 {
		ms, err = s.Store.RoomMessagesBefore(ctx, room.ID, before, s.HistorySize+1)
	} else {
		ms, err = s.Store.RoomRecentMessages(ctx, room.ID, s.HistorySize+1)
	}
	if err != nil {
		return views.History{}, storeUnavailable(err, "Chatzilla can't load the messages right now. Try again in a moment.")
	}
	vs := messageViews(ms)
	h := views.History{HasOlder: len(vs) > s.HistorySize, Room: roomLink(room, "")}
	var prev *views.Message
	if h.HasOlder {
		prev, vs = &vs[0], vs[1:]
	}
	h.Messages = views.InLogOrder(prev, vs, me)
	return h, nil
}
