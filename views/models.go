// Package views holds Chatzilla's HTML as templ components. Components take
// the small view-model structs below and never query anything themselves.
package views

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Page is what every full page needs besides its content.
type Page struct {
	// StylesheetURL and ScriptURLs are versioned asset URLs. ScriptURLs is
	// empty when the htmx files were not built in: the page then works as
	// plain forms.
	StylesheetURL string
	IconURL       string
	ScriptURLs    []string
	// Title is the window's title; "" for plain "Chatzilla".
	Title string
}

// title is the <title> of the page.
func (p Page) title() string {
	if p.Title == "" {
		return siteName
	}
	return p.Title
}

// siteName ends every page's title.
const siteName = "Chatzilla"

// withoutScripts is p for a page that uses no script: the join form and
// error pages are plain HTML, and loading htmx there would only slow them.
func (p Page) withoutScripts() Page {
	p.ScriptURLs = nil
	return p
}

// JoinForm is the "type your email" form.
type JoinForm struct {
	Email string // what the person typed, kept when it was refused
	Error string
	// DraftKept says a message sent after the session ended waits to be
	// put back in the composer once the person has joined again.
	DraftKept bool
	// EmailSignIn says joining mails a sign-in link (SIGN_IN=email);
	// otherwise anyone may join as any address, unverified.
	EmailSignIn bool
}

// Message is one chat message as shown in the list.
type Message struct {
	ID      int64
	Sender  string // the sender's address: who they are
	Content string
	SentAt  time.Time // when the server stored it
	// Name is the sender's display name when they sent it, "" for none;
	// Verified says their address was proved by a sign-in link.
	Name     string
	Verified bool

	// FollowsOn says the message joins the group of the one before it:
	// same sender, moments later. Its header is then hidden from sight,
	// though not from the markup (see MessageItem).
	FollowsOn bool
	// NewDay says the message is the first of its day (in UTC; the page's
	// script redraws day lines in the reader's time zone).
	NewDay bool
	// Own marks the reader's own messages on a page rendered for them. A
	// stream's fragments are the same for every reader, so there the
	// page's script marks them.
	Own bool
}

// groupWindow is how far apart two messages from one sender may be and still
// read as one group, as in Slack or Campfire.
const groupWindow = 5 * time.Minute

// InLog places m after prev, the message before it in the log (nil if there
// is none). The decision is made here, from the log alone, so that a page,
// a live stream and a replay render every message the same way.
func (m Message) InLog(prev *Message) Message {
	m.FollowsOn, m.NewDay = false, true
	if prev == nil {
		return m
	}
	gap := m.SentAt.Sub(prev.SentAt)
	m.FollowsOn = prev.Sender == m.Sender && gap >= 0 && gap < groupWindow
	y1, m1, d1 := prev.SentAt.UTC().Date()
	y2, m2, d2 := m.SentAt.UTC().Date()
	m.NewDay = y1 != y2 || m1 != m2 || d1 != d2
	return m
}

// InLogOrder places each message after the one before it; prev is the
// message before the first (nil if there is none). own is the reader, "" for
// a rendering shared by every reader.
func InLogOrder(prev *Message, ms []Message, own string) []Message {
	for i := range ms {
		ms[i] = ms[i].InLog(prev)
		ms[i].Own = own != "" && ms[i].Sender == own
		prev = &ms[i]
	}
	return ms
}

// Datetime is the machine-readable time, in UTC.
func (m Message) Datetime() string { return m.SentAt.UTC().Format(time.RFC3339) }

// Clock is the time shown, in UTC and without a leading zero ("9:05"); the
// page's script shows it in the reader's own time zone and format instead.
func (m Message) Clock() string {
	t := m.SentAt.UTC()
	return strconv.Itoa(t.Hour()) + t.Format(":04")
}

// Date is the machine-readable day of the message, in UTC.
func (m Message) Date() string { return m.SentAt.UTC().Format(time.DateOnly) }

// DayLabel is the day line above the first message of a day.
func (m Message) DayLabel() string { return m.SentAt.UTC().Format("Monday 2 January 2006") }

// Local is the part of sender's address before the last @: the name shown
// prominently next to the full address, which is muted.
func Local(sender string) string {
	if i := strings.LastIndexByte(sender, '@'); i > 0 {
		return sender[:i]
	}
	return sender
}

// ShownName is the name shown prominently: the display name, or the part
// of the address before the @.
func (m Message) ShownName() string {
	if m.Name != "" {
		return m.Name
	}
	return Local(m.Sender)
}

// FullTime is the tooltip: date and time.
func (m Message) FullTime() string { return m.SentAt.UTC().Format("2 Jan 2006 15:04 UTC") }

// DOMID is the list item's id, which also lets a reader link to a message.
func (m Message) DOMID() string { return "m-" + strconv.FormatInt(m.ID, 10) }

// sendTimeout is how long the browser waits for the answer to a send before
// it tells the person "Not sent" and offers Retry. A send normally takes
// milliseconds; one that takes this long is lost in a network that has gone
// away, and the person should not be left waiting.
const sendTimeout = "15s"

// Composer is the "write a message" form.
type Composer struct {
	Text string // kept when the message was refused
	// Key is the one-time key the form sends with the message, made by the
	// server for each new message and kept while it is retried, so that a
	// retry of a post that did reach the store stores nothing twice.
	Key   string
	Error string
	// Autofocus puts the cursor in the composer: after sending, so the next
	// message can be typed at once.
	Autofocus bool
	// MaxLength is the longest message, in characters; 0 for no limit.
	MaxLength int
	// Action is where the form posts: the room's messages, "" for
	// general's "/messages".
	Action string
}

// PostURL is the form's action and hx-post.
func (c Composer) PostURL() string {
	if c.Action == "" {
		return "/messages"
	}
	return c.Action
}

// Chat is the page of someone who has joined.
type Chat struct {
	Me       string
	Messages []Message // oldest first
	Composer Composer
	Online   []string // who is in the chat, sorted
	// HasOlder says there are messages before the first one shown.
	HasOlder bool
	// Archive is true for a page of older messages (?before=ID): it shows
	// a link back to the latest and does not go live.
	Archive bool
	// Unverified says anyone may join as any address (SIGN_IN=open).
	Unverified bool
	// Names are the display names of those online who have one.
	Names map[string]string

	// Room is the room the page shows; the zero RoomLink is general.
	Room RoomLink
	// Sidebar is the person's rooms and the forms to make more.
	Sidebar Sidebar
	// Joined says the reader is in the room. False for an open room they
	// are not in: a "Join this room" form stands in for the composer.
	Joined bool
	// NewSince is the first message after the reader's last visit: the
	// "New since your last visit" line goes above it. 0: no line.
	NewSince int64
	// Members are a private room's members, sorted; CanInvite shows the
	// form that adds one by address.
	Members   []string
	CanInvite bool
	// UnreadTotal is the unread messages in the reader's other rooms,
	// which the window's title counts.
	UnreadTotal int
}

// Empty says the chat has no messages at all yet.
func (c Chat) Empty() bool { return len(c.Messages) == 0 && !c.HasOlder && !c.Archive }

// Title is the window's title: the room and, when the reader has unread
// messages elsewhere, how many ("(3) design – Chatzilla"). General's is the
// site's name alone, as it was before there were rooms.
func (c Chat) Title() string {
	t := siteName
	if !c.Room.IsGeneral() {
		t = c.Room.Shown() + " – " + siteName
	}
	if c.UnreadTotal > 0 {
		t = "(" + strconv.Itoa(c.UnreadTotal) + ") " + t
	}
	return t
}

// BaseTitle is the title without the unread count, from which the page's
// script makes it again as counts change.
func (c Chat) BaseTitle() string {
	c.UnreadTotal = 0
	return c.Title()
}

// History is a page of messages and, if there are more, the way to them.
type History struct {
	Messages []Message
	HasOlder bool
	// Room is the room the messages are in; the zero RoomLink is general.
	Room RoomLink
	// NewSince is the message the "New since your last visit" line goes
	// above; 0 for none.
	NewSince int64
}

// StreamURL is where the list connects for live messages: after the last
// message the page shows, so nothing posted between page load and stream
// connect is missed. General's stream keeps its old address, which other
// clients use.
func (c Chat) StreamURL() string {
	var last int64
	if n := len(c.Messages); n > 0 {
		last = c.Messages[n-1].ID
	}
	after := "?after=" + strconv.FormatInt(last, 10)
	if c.Room.IsGeneral() {
		return "/events" + after
	}
	return c.Room.URL() + "/events" + after
}

// OlderURL is the page of messages before the first shown.
func (h History) OlderURL() string {
	if len(h.Messages) == 0 {
		return h.Room.URL()
	}
	return h.Room.URL() + "?before=" + strconv.FormatInt(h.Messages[0].ID, 10)
}

// history is the page's own messages as HistoryItems renders them.
func (c Chat) history() History {
	return History{Messages: c.Messages, HasOlder: c.HasOlder, Room: c.Room, NewSince: c.NewSince}
}

// generalSlug is the room everyone is in, which the zero RoomLink stands
// for, so a page that names no room is general's as it always was.
const generalSlug = "general"

// RoomLink is one room in the sidebar, or the room a page shows.
type RoomLink struct {
	ID        int64
	Slug      string
	Name      string // "" for direct rooms: shown as the other person
	Kind      string // "open", "private", "direct"
	Other     string // direct: the other person's address
	OtherName string // their display name, "" if none
	Unread    int    // 0: an empty badge; beyond 99 shown "99+"
	Current   bool   // the room the page shows (aria-current="page")
}

// IsGeneral says r is general, the room everyone is in.
func (r RoomLink) IsGeneral() bool {
	return r.ID == 1 || r.Slug == generalSlug || (r.ID == 0 && r.Slug == "")
}

// IsDirect says r is a conversation of two people.
func (r RoomLink) IsDirect() bool { return r.Kind == "direct" }

// IsPrivate says r is a room its members invite others to.
func (r RoomLink) IsPrivate() bool { return r.Kind == "private" }

// URL is the room's page: "/" for general, else /rooms/{slug}.
func (r RoomLink) URL() string {
	if r.IsGeneral() {
		return "/"
	}
	return "/rooms/" + url.PathEscape(r.Slug)
}

// action is the address of one of the room's forms: /rooms/{slug}/{what}.
func (r RoomLink) action(what string) string {
	slug := r.Slug
	if r.IsGeneral() {
		slug = generalSlug
	}
	return "/rooms/" + url.PathEscape(slug) + "/" + what
}

// DataSlug is the slug the page's script reports reading under
// (/rooms/{slug}/read): "general" for general.
func (r RoomLink) DataSlug() string {
	if r.IsGeneral() {
		return generalSlug
	}
	return r.Slug
}

// Shown is the room's name as people see it, without a mark: the name, or
// for a direct room the other person's name or address.
func (r RoomLink) Shown() string {
	switch {
	case r.IsDirect() && r.OtherName != "":
		return r.OtherName
	case r.IsDirect():
		return r.Other
	case r.Name == "" && r.IsGeneral():
		return generalSlug
	}
	return r.Name
}

// Label is the room's name in text: "# design", or for a direct room the
// other person's name or address.
func (r RoomLink) Label() string {
	if r.IsDirect() {
		return r.Shown()
	}
	return "# " + r.Shown()
}

// Badge is the unread count as the sidebar shows it: "" for none, "99+"
// beyond 99 (the store counts no further than 100).
func (r RoomLink) Badge() string { return Badge(r.Unread) }

// Badge is an unread count as a badge shows it: "" for none, "99+" beyond
// 99. Streams use it for the out-of-band updates of the sidebar.
func Badge(n int) string {
	switch {
	case n <= 0:
		return ""
	case n > 99:
		return "99+"
	}
	return strconv.Itoa(n)
}

// BadgeID is the id of the room's badge, which stream updates replace.
func (r RoomLink) BadgeID() string { return "unread-" + strconv.FormatInt(r.ID, 10) }

// Sidebar is the list of a person's rooms and the forms to add to it.
type Sidebar struct {
	Rooms  []RoomLink // the person's rooms, general first
	Browse []RoomLink // open rooms they are not in
	// Private says sign-in is by email (SIGN_IN=email), so private rooms
	// and direct messages are offered.
	Private bool
	Create  RoomForm // the create-a-room form, kept after a refusal
}

// Channels are the person's rooms other than direct ones.
func (s Sidebar) Channels() []RoomLink {
	var rs []RoomLink
	for _, r := range s.Rooms {
		if !r.IsDirect() {
			rs = append(rs, r)
		}
	}
	return rs
}

// Directs are the person's direct rooms.
func (s Sidebar) Directs() []RoomLink {
	var rs []RoomLink
	for _, r := range s.Rooms {
		if r.IsDirect() {
			rs = append(rs, r)
		}
	}
	return rs
}

// RoomForm is the "create a room" form.
type RoomForm struct {
	Name  string // kept when it was refused
	Kind  string // "open" or "private"; "" is open
	Error string
}

// maxRoomName is the longest room name, in characters, that the server
// takes (see POST /rooms).
const maxRoomName = 80

// Notice is a line in the list that is not a message: "bob@… joined", or
// for a crowd, "12 people joined".
type Notice struct {
	Email string // "" for a crowd
	Count int    // people, when Email is ""
	Event string // "joined" or "left"
}

// MaxPeopleShown bounds the "who's online" list on the page and in every
// update of it, so its size does not grow with the crowd; the count says
// how many there are in all.
const MaxPeopleShown = 50

// People is the "who's online" panel.
type People struct {
	Online []string // sorted
	// Names are the display names of those who have one, by address.
	Names map[string]string
	// Unverified says anyone may join as any address (SIGN_IN=open).
	Unverified bool
	// Private says direct messages are offered (SIGN_IN=email): each
	// person but Me gets a Message button. A stream's panel is the same
	// for every reader, so it has no Me, and the page's script hides the
	// reader's own button.
	Private bool
	Me      string
}

// Name is the name shown for email: the display name, or the part of the
// address before the @.
func (p People) Name(email string) string {
	if n := p.Names[email]; n != "" {
		return n
	}
	return Local(email)
}

// Shown are the people listed; the rest are counted.
func (p People) Shown() []string { return p.Online[:min(len(p.Online), MaxPeopleShown)] }

// More is how many are online but not listed.
func (p People) More() int { return len(p.Online) - len(p.Shown()) }

// Problem is an error shown to a person.
type Problem struct {
	Status  int
	Title   string
	Message string
}

// titled is p with the window's title t.
func (p Page) titled(t string) Page {
	p.Title = t
	return p
}

// joined says the reader may write in the room: everyone is in general.
func (c Chat) joined() bool { return c.Joined || c.Room.IsGeneral() }

// isCurrent says r is the room the page shows.
func (c Chat) isCurrent(r RoomLink) bool { return r.Current || (c.Room.ID != 0 && r.ID == c.Room.ID) }

// newSinceAt says the "New since your last visit" line goes above the i-th
// message: the first one at or after NewSince, which may itself not be
// shown (a message since deleted, or one of the reader's own).
func (h History) newSinceAt(i int) bool {
	if h.NewSince <= 0 || h.Messages[i].ID < h.NewSince {
		return false
	}
	return i == 0 || h.Messages[i-1].ID < h.NewSince
}
