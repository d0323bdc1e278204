package views

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
)

func parse(t *testing.T, c templ.Component) *goquery.Document {
	t.Helper()
	var b bytes.Buffer
	if err := c.Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	d, err := goquery.NewDocumentFromReader(&b)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestMessageTimeIsWhenStored(t *testing.T) {
	sent := time.Date(2026, 3, 4, 17, 5, 9, 123, time.FixedZone("CET", 3600))
	d := parse(t, MessageItem(Message{ID: 9, Sender: "ann@example.com", Content: "hi", SentAt: sent}))
	tm := d.Find("li#m-9 > time:not(.day)")
	if tm.Length() != 1 {
		t.Fatal("no <time> in the message")
	}
	if dt, _ := tm.Attr("datetime"); dt != "2026-03-04T16:05:09Z" {
		t.Errorf("datetime %q, want the UTC instant", dt)
	}
	if tm.Text() != "16:05" {
		t.Errorf("shown time %q, want 16:05 (UTC until the page's script localises it)", tm.Text())
	}
	if title, _ := tm.Attr("title"); title != "4 Mar 2026 16:05 UTC" {
		t.Errorf("title %q", title)
	}
	// The time comes last, after the sender and the content.
	if last := d.Find("li#m-9").Children().Last(); goquery.NodeName(last) != "time" {
		t.Errorf("last child is %s, want the <time>", goquery.NodeName(last))
	}
	early := Message{ID: 10, Sender: "ann@example.com", SentAt: time.Date(2026, 3, 4, 8, 2, 0, 0, time.UTC)}
	if got := early.Clock(); got != "8:02" {
		t.Errorf("clock %q, want 8:02, without a leading zero", got)
	}
}

// A group: the same sender moments apart. Every message keeps its sender in
// the markup, in a <b> with the address alone, followed by ": " and the text.
func TestMessagesInLogOrder(t *testing.T) {
	at := func(d, h, m int) time.Time { return time.Date(2026, 3, d, h, m, 0, 0, time.UTC) }
	ms := InLogOrder(nil, []Message{
		{ID: 1, Sender: "ann@example.com", Content: "one", SentAt: at(4, 9, 0)},
		{ID: 2, Sender: "ann@example.com", Content: "two", SentAt: at(4, 9, 2)},
		{ID: 3, Sender: "bob@example.com", Content: "three", SentAt: at(4, 9, 3)},
		{ID: 4, Sender: "bob@example.com", Content: "four", SentAt: at(4, 9, 30)},
		{ID: 5, Sender: "bob@example.com", Content: "five", SentAt: at(5, 0, 1)},
	}, "bob@example.com")
	want := []struct{ cont, day, own bool }{{false, true, false}, {true, false, false}, {false, false, true}, {false, false, true}, {false, true, true}}
	for i, m := range ms {
		if m.FollowsOn != want[i].cont || m.NewDay != want[i].day || m.Own != want[i].own {
			t.Errorf("message %d: follows on %v, new day %v, own %v; want %+v", m.ID, m.FollowsOn, m.NewDay, m.Own, want[i])
		}
		li := parse(t, MessageItem(m)).Find("li.msg")
		if b := li.Find("b"); b.Length() != 1 || b.Text() != m.Sender || b.Find("*").Not("bdi").Length() != 0 {
			t.Errorf("message %d: sender element %q", m.ID, b.Text())
		}
		c := li.Clone()
		c.Find("time").Remove()
		if got := c.Text(); got != m.Sender+": "+m.Content {
			t.Errorf("message %d reads %q", m.ID, got)
		}
		if li.HasClass("cont") != m.FollowsOn || (li.Find("time.day").Length() == 1) != m.NewDay || li.HasClass("own") != m.Own {
			t.Errorf("message %d rendered as %q", m.ID, li.AttrOr("class", ""))
		}
	}
}

func TestLinks(t *testing.T) {
	tests := []struct {
		text  string
		links []string // hrefs, in order
		rest  string   // the text as shown
	}{
		{"see https://example.com/a?b=1&c=2.", []string{"https://example.com/a?b=1&c=2"}, "see https://example.com/a?b=1&c=2."},
		{"(http://x.org/wiki/A_(b)) and HTTPS://X.ORG", []string{"http://x.org/wiki/A_(b)", "HTTPS://X.ORG"}, "(http://x.org/wiki/A_(b)) and HTTPS://X.ORG"},
		{`https://x.org/"><script>alert(1)</script>`, []string{"https://x.org/"}, `https://x.org/"><script>alert(1)</script>`},
		{"javascript:alert(1)", nil, "javascript:alert(1)"},
		{"data:text/html;base64,PHNjcmlwdD4=", nil, "data:text/html;base64,PHNjcmlwdD4="},
		{"javascript://example.com/%0Aalert(1)", nil, "javascript://example.com/%0Aalert(1)"},
		{"https:// nothing", nil, "https:// nothing"},
		{"<a href=\"https://x.org\">x</a>", []string{"https://x.org"}, "<a href=\"https://x.org\">x</a>"},
	}
	for _, tt := range tests {
		d := parse(t, MessageItem(Message{ID: 1, Sender: "ann@example.com", Content: tt.text}))
		text := d.Find("li > bdi")
		var hrefs []string
		text.Find("a").Each(func(_ int, a *goquery.Selection) {
			hrefs = append(hrefs, a.AttrOr("href", ""))
			if a.AttrOr("rel", "") != "noopener noreferrer nofollow ugc" || a.AttrOr("target", "") != "_blank" {
				html, _ := goquery.OuterHtml(a)
				t.Errorf("%q: link %s", tt.text, html)
			}
			if a.Text() != a.AttrOr("href", "") {
				t.Errorf("%q: link text %q for %q", tt.text, a.Text(), a.AttrOr("href", ""))
			}
		})
		if fmt.Sprint(hrefs) != fmt.Sprint(tt.links) {
			t.Errorf("%q: links %q, want %q", tt.text, hrefs, tt.links)
		}
		if text.Text() != tt.rest {
			t.Errorf("%q shown as %q", tt.text, text.Text())
		}
		if n := text.Find("*").Not("a").Length(); n != 0 {
			t.Errorf("%q: %d elements other than links", tt.text, n)
		}
	}
}

func TestInitials(t *testing.T) {
	tests := []struct{ email, want string }{
		{"ada.lovelace@example.com", "AL"},
		{"bob@example.com", "B"},
		{"élise_martin+chat@example.com", "ÉM"},
		{"j-r-r-tolkien@example.com", "JR"},
		{"42@example.com", "4"},
		{"o'brien@example.com", "OB"},
		{"...@example.com", "?"},
	}
	for _, tt := range tests {
		if got := Initials(tt.email); got != tt.want {
			t.Errorf("Initials(%q) = %q, want %q", tt.email, got, tt.want)
		}
	}
}

func TestAvatarClass(t *testing.T) {
	if AvatarClass("Ann@Example.com") != AvatarClass("ann@example.com") {
		t.Error("colour depends on letter case")
	}
	seen := map[string]bool{}
	for _, name := range []string{"ann", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "sybil"} {
		c := AvatarClass(name + "@example.com")
		n, err := strconv.Atoi(strings.TrimPrefix(c, "av-"))
		if !strings.HasPrefix(c, "av-") || err != nil || n < 0 || n >= avatarColours {
			t.Fatalf("AvatarClass = %q, want av-0 … av-%d", c, avatarColours-1)
		}
		seen[c] = true
	}
	if len(seen) < 8 {
		t.Errorf("16 people share only %d colours", len(seen))
	}
}

func TestAvatarRendering(t *testing.T) {
	d := parse(t, PeoplePanel(People{Online: []string{"ada.lovelace@example.com", "<b>@x"}}, true))
	if oob, _ := d.Find("aside#people").Attr("hx-swap-oob"); oob != "true" {
		t.Error("a streamed panel must swap out of band")
	}
	if got := d.Find(".count").Text(); got != "2" {
		t.Errorf("count %q", got)
	}
	av := d.Find("li").First().Find(".avatar")
	if av.Text() != "AL" || !av.HasClass(AvatarClass("ada.lovelace@example.com")) {
		t.Errorf("avatar %q classes %q", av.Text(), av.AttrOr("class", ""))
	}
	if hidden, _ := av.Attr("aria-hidden"); hidden != "true" {
		t.Error("the avatar repeats the name; screen readers should skip it")
	}
	if d.Find("li b").Length() != 0 {
		t.Error("markup in an address became an element")
	}
	if d2 := parse(t, PeoplePanel(People{}, false)); d2.Find("aside#people").AttrOr("hx-swap-oob", "none") != "none" {
		t.Error("the page's own panel must not be out of band")
	}
}

func TestPeoplePanelIsBounded(t *testing.T) {
	online := make([]string, MaxPeopleShown+25)
	for i := range online {
		online[i] = fmt.Sprintf("p%03d@example.com", i)
	}
	d := parse(t, PeoplePanel(People{Online: online}, true))
	if n := d.Find("li[title]").Length(); n != MaxPeopleShown {
		t.Errorf("%d people listed, want %d", n, MaxPeopleShown)
	}
	if got := d.Find("li.more").Text(); got != "and 25 more" {
		t.Errorf("more: %q", got)
	}
	if got := d.Find(".count").Text(); got != fmt.Sprint(MaxPeopleShown+25) {
		t.Errorf("count %q", got)
	}
}

func TestCrowdNotice(t *testing.T) {
	if got := parse(t, NoticeItem(Notice{Count: 12, Event: "joined"})).Find("li.notice").Text(); got != "12 people joined" {
		t.Errorf("crowd notice %q", got)
	}
}

func TestNoticeEscapes(t *testing.T) {
	d := parse(t, NoticeItem(Notice{Email: `<script>x</script>@example.com`, Event: "joined"}))
	if d.Find("script").Length() != 0 || d.Find("li.notice").Text() != "<script>x</script>@example.com joined" {
		t.Errorf("notice: %q", d.Find("li.notice").Text())
	}
}

// TestMessageListIsAListInsideALog: a log role on the list itself would
// cancel its list semantics (every item would then be a listitem without a
// list); the live region wraps it instead. The list scrolls, so it can take
// the keyboard focus, and has a name to be announced by.
func TestMessageListIsAListInsideALog(t *testing.T) {
	msgs := []Message{{ID: 1, Sender: "ann@example.com", Content: "hi", SentAt: time.Now()}}
	for _, archive := range []bool{false, true} {
		d := parse(t, ChatPage(Page{}, Chat{Me: "bob@example.com", Messages: msgs, Archive: archive}))
		list := d.Find("#messages")
		if goquery.NodeName(list) != "ul" {
			t.Fatalf("archive=%v: #messages is <%s>", archive, goquery.NodeName(list))
		}
		if role, ok := list.Attr("role"); ok {
			t.Errorf("archive=%v: list has role %q", archive, role)
		}
		if tab, _ := list.Attr("tabindex"); tab != "0" {
			t.Errorf("archive=%v: list tabindex %q, want 0", archive, tab)
		}
		if label, _ := list.Attr("aria-label"); label == "" {
			t.Errorf("archive=%v: list has no label", archive)
		}
		log := list.Parent()
		if role, _ := log.Attr("role"); role != "log" {
			t.Errorf("archive=%v: list's parent has role %q, want log", archive, role)
		}
		if label, _ := log.Attr("aria-label"); label == "" {
			t.Errorf("archive=%v: log has no label", archive)
		}
		live, _ := log.Attr("aria-live")
		if _, stream := list.Attr("hx-sse:connect"); stream == archive || (live == "polite") == archive {
			t.Errorf("archive=%v: stream %v, aria-live %q", archive, stream, live)
		}
		if list.Children().Not("li").Length() != 0 {
			t.Errorf("archive=%v: list has children other than <li>", archive)
		}
	}
}

// sidebarChat is a reader in the room design, with general and a direct
// room beside it.
func sidebarChat(private bool) Chat {
	return Chat{
		Me:   "me@example.com",
		Room: RoomLink{ID: 2, Slug: "design", Name: "design", Kind: "open"},
		Sidebar: Sidebar{
			Rooms: []RoomLink{
				{ID: 1, Slug: "general", Name: "general", Kind: "open"},
				{ID: 2, Slug: "design", Name: "design", Kind: "open", Current: true},
				{ID: 3, Slug: "ops", Name: "ops", Kind: "private", Unread: 100},
				{ID: 4, Slug: "dm-1", Kind: "direct", Other: "carol@example.com", OtherName: "Carol", Unread: 7},
				{ID: 5, Slug: "dm-2", Kind: "direct", Other: "dave@example.com"},
			},
			Browse:  []RoomLink{{ID: 6, Slug: "random", Name: "random", Kind: "open"}},
			Private: private,
		},
		Joined: true,
		Online: []string{"ann@example.com", "me@example.com"},
	}
}

// Every room of the reader's has its badge, empty at 0, so that a stream's
// out-of-band update finds it; the room shown is the current page.
func TestSidebarBadgesAndCurrentRoom(t *testing.T) {
	d := parse(t, ChatPage(Page{}, sidebarChat(true)))
	nav := d.Find(`nav#rooms[aria-label="Rooms"]`)
	if nav.Length() != 1 {
		t.Fatal("no <nav id=rooms aria-label=Rooms>")
	}
	want := []struct {
		href, name, badge string
		id                int
	}{
		{"/", "general", "", 1},
		{"/rooms/design", "design", "", 2},
		{"/rooms/ops", "ops", "99+", 3},
		{"/rooms/dm-1", "Carol", "7", 4},
		{"/rooms/dm-2", "dave@example.com", "", 5},
	}
	links := nav.Find("a.room-link").Not(".browse a")
	if links.Length() != len(want) {
		t.Fatalf("%d room links, want %d", links.Length(), len(want))
	}
	links.Each(func(i int, a *goquery.Selection) {
		w := want[i]
		if href := a.AttrOr("href", ""); href != w.href {
			t.Errorf("room %d: href %q, want %q", w.id, href, w.href)
		}
		if got := a.Find(".room-name").Text(); got != w.name {
			t.Errorf("room %d: name %q, want %q", w.id, got, w.name)
		}
		badge := a.Find(".unread")
		if badge.Length() != 1 || badge.AttrOr("id", "") != fmt.Sprintf("unread-%d", w.id) || badge.Text() != w.badge {
			html, _ := goquery.OuterHtml(badge)
			t.Errorf("room %d: badge %s, want %q", w.id, html, w.badge)
		}
		if _, current := a.Attr("aria-current"); current != (w.id == 2) {
			t.Errorf("room %d: aria-current %v", w.id, current)
		}
	})
	if d.Find(`[aria-current="page"]`).Length() != 1 {
		t.Error("want exactly one aria-current=page")
	}
	browse := nav.Find(".browse a")
	if browse.Length() != 1 || browse.AttrOr("href", "") != "/rooms/random" || browse.Find(".unread").Length() != 0 {
		t.Errorf("browse rooms: %d links", browse.Length())
	}
	if got := d.Find("#room-title .room-name").Text(); got != "design" {
		t.Errorf("conversation heading %q", got)
	}
}

func TestBadge(t *testing.T) {
	for n, want := range map[int]string{-1: "", 0: "", 1: "1", 99: "99", 100: "99+", 5000: "99+"} {
		if got := Badge(n); got != want {
			t.Errorf("Badge(%d) = %q, want %q", n, got, want)
		}
	}
}

// General keeps the addresses other clients use; other rooms have their own.
func TestRoomURLs(t *testing.T) {
	msgs := []Message{{ID: 3, Sender: "ann@example.com", Content: "a"}, {ID: 5, Sender: "ann@example.com", Content: "b"}}
	tests := []struct {
		room                    RoomLink
		page, stream, older, js string
	}{
		{RoomLink{}, "/", "/events?after=5", "/?before=3", "general"},
		{RoomLink{ID: 1, Slug: "general", Name: "general"}, "/", "/events?after=5", "/?before=3", "general"},
		{RoomLink{ID: 2, Slug: "design", Name: "design"}, "/rooms/design", "/rooms/design/events?after=5", "/rooms/design?before=3", "design"},
	}
	for _, tt := range tests {
		c := Chat{Me: "me@example.com", Messages: msgs, HasOlder: true, Room: tt.room, Joined: true}
		if got := tt.room.URL(); got != tt.page {
			t.Errorf("%q: URL %q, want %q", tt.room.Slug, got, tt.page)
		}
		if got := c.StreamURL(); got != tt.stream {
			t.Errorf("%q: StreamURL %q, want %q", tt.room.Slug, got, tt.stream)
		}
		if got := c.history().OlderURL(); got != tt.older {
			t.Errorf("%q: OlderURL %q, want %q", tt.room.Slug, got, tt.older)
		}
		d := parse(t, ChatPage(Page{}, c))
		if got := d.Find("#messages").AttrOr("hx-sse:connect", ""); got != tt.stream {
			t.Errorf("%q: the list connects to %q", tt.room.Slug, got)
		}
		if got := d.Find("#older a").AttrOr("href", ""); got != tt.older {
			t.Errorf("%q: older link %q", tt.room.Slug, got)
		}
		if got := d.Find(".app").AttrOr("data-room", ""); got != tt.js {
			t.Errorf("%q: data-room %q, want %q", tt.room.Slug, got, tt.js)
		}
		leave := d.Find("form.leave-room")
		if tt.js == "general" && leave.Length() != 0 {
			t.Error("general has a Leave room form: everyone is in general")
		}
		if tt.js != "general" && leave.AttrOr("action", "") != "/rooms/"+tt.js+"/leave" {
			t.Errorf("%q: leave form %q", tt.room.Slug, leave.AttrOr("action", ""))
		}
	}
	if got := (History{}).OlderURL(); got != "/" {
		t.Errorf("general's empty history links to %q", got)
	}
	if got := (RoomLink{Slug: "a b/c"}).URL(); got != "/rooms/a%20b%2Fc" {
		t.Errorf("escaped URL %q", got)
	}
}

func TestComposerAction(t *testing.T) {
	for action, want := range map[string]string{"": "/messages", "/rooms/design/messages": "/rooms/design/messages"} {
		f := parse(t, ComposerForm(Composer{Action: action})).Find("form#composer")
		if f.AttrOr("action", "") != want || f.AttrOr("hx-post", "") != want {
			t.Errorf("Action %q: action %q hx-post %q, want %q", action, f.AttrOr("action", ""), f.AttrOr("hx-post", ""), want)
		}
	}
}

// The line goes right above the first message after the last visit, also
// when that message itself is not shown; there is at most one.
func TestNewSinceLine(t *testing.T) {
	msgs := []Message{{ID: 3, Sender: "a@x"}, {ID: 5, Sender: "a@x"}, {ID: 8, Sender: "a@x"}}
	for newSince, wantAbove := range map[int64]string{0: "", 5: "m-5", 4: "m-5", 1: "m-3", 9: ""} {
		d := parse(t, ChatPage(Page{}, Chat{Me: "b@x", Messages: msgs, NewSince: newSince, HasOlder: true}))
		line := d.Find("li.new-since")
		if wantAbove == "" {
			if line.Length() != 0 {
				t.Errorf("NewSince %d: a line where none is due", newSince)
			}
			continue
		}
		if line.Length() != 1 {
			t.Fatalf("NewSince %d: %d lines", newSince, line.Length())
		}
		if line.AttrOr("id", "") != "new-since" || line.Text() != "New since your last visit" {
			html, _ := goquery.OuterHtml(line)
			t.Errorf("NewSince %d: %s", newSince, html)
		}
		if next := line.Next().AttrOr("id", ""); next != wantAbove {
			t.Errorf("NewSince %d: the line is above %q, want %q", newSince, next, wantAbove)
		}
		if line.Parent().AttrOr("id", "") != "messages" {
			t.Errorf("NewSince %d: the line is not in the list", newSince)
		}
	}
}

// Private rooms and direct messages need verified addresses: without them
// (SIGN_IN=open) the page offers neither.
func TestDirectMessagesOnlyWhenPrivate(t *testing.T) {
	for _, private := range []bool{false, true} {
		d := parse(t, ChatPage(Page{}, sidebarChat(private)))
		dm := d.Find(`nav#rooms form[action="/dm"][method="post"] input[type="email"][name="email"]`)
		if (dm.Length() == 1) != private {
			t.Errorf("private=%v: %d DM-by-address forms", private, dm.Length())
		}
		if got := d.Find(`select[name="kind"] option[value="private"]`).Length(); (got == 1) != private {
			t.Errorf("private=%v: %d private options", private, got)
		}
		if !private && d.Find(`form[action="/rooms"] input[type="hidden"][name="kind"][value="open"]`).Length() != 1 {
			t.Error("without private rooms, the new room's kind is open")
		}
		people := d.Find(`#people form.dm[action="/dm"]`)
		if want := map[bool]int{false: 0, true: 1}[private]; people.Length() != want {
			t.Errorf("private=%v: %d Message forms in who's online, want %d", private, people.Length(), want)
		}
		if private && people.Find(`input[type="hidden"][name="email"]`).AttrOr("value", "") != "ann@example.com" {
			t.Error("the Message form is not for the other person")
		}
	}
	// A stream's panel has no reader: everyone gets a button (the page's
	// script hides the reader's own).
	d := parse(t, PeoplePanel(People{Online: []string{"a@x", "b@x"}, Private: true}, true))
	if n := d.Find("form.dm").Length(); n != 2 {
		t.Errorf("streamed panel: %d Message forms, want 2", n)
	}
}

func TestNewRoomFormKeepsRefusal(t *testing.T) {
	c := sidebarChat(true)
	c.Sidebar.Create = RoomForm{Name: "ops", Kind: "private", Error: "A room called ops exists already."}
	d := parse(t, ChatPage(Page{}, c))
	f := d.Find(`form[action="/rooms"][method="post"]`)
	in := f.Find(`input[name="name"]`)
	if in.AttrOr("value", "") != "ops" || in.AttrOr("aria-invalid", "") != "true" || in.AttrOr("aria-describedby", "") != "room-name-error" {
		html, _ := goquery.OuterHtml(in)
		t.Errorf("name field %s", html)
	}
	if got := f.Find("#room-name-error").Text(); got != c.Sidebar.Create.Error {
		t.Errorf("error %q", got)
	}
	if _, ok := f.Find(`option[value="private"]`).Attr("selected"); !ok {
		t.Error("the kind chosen is not kept")
	}
	if !d.Find("#rooms-popover").HasClass("refused") {
		t.Error("a refused room must open the sidebar on a phone")
	}
	if d2 := parse(t, ChatPage(Page{}, sidebarChat(true))); d2.Find(`input[name="name"][aria-invalid]`).Length() != 0 || d2.Find("#room-name-error").Length() != 0 {
		t.Error("an error where nothing was refused")
	}
}

func TestJoinRoomReplacesComposer(t *testing.T) {
	c := sidebarChat(false)
	c.Joined = false
	d := parse(t, ChatPage(Page{}, c))
	if d.Find("form#composer").Length() != 0 {
		t.Error("a reader not in the room has a composer")
	}
	if d.Find(`form.join-room[method="post"][action="/rooms/design/join"] button`).Text() != "Join this room" {
		t.Error("no Join this room form")
	}
	if d.Find("form.leave-room").Length() != 0 {
		t.Error("Leave room for a room the reader is not in")
	}
	// General: everyone is in it, whatever Joined says.
	if d := parse(t, ChatPage(Page{}, Chat{Me: "me@example.com"})); d.Find("form#composer").Length() != 1 || d.Find("form.join-room").Length() != 0 {
		t.Error("general must always have the composer")
	}
}

func TestPrivateRoomMembers(t *testing.T) {
	for _, canInvite := range []bool{false, true} {
		c := sidebarChat(true)
		c.Room = RoomLink{ID: 3, Slug: "ops", Name: "ops", Kind: "private"}
		c.Members = []string{"ann@example.com", "me@example.com"}
		c.CanInvite = canInvite
		d := parse(t, ChatPage(Page{}, c))
		if got := d.Find(".members li").Length(); got != 2 {
			t.Errorf("%d members listed", got)
		}
		invite := d.Find(`form[method="post"][action="/rooms/ops/members"] input[type="email"][name="email"]`)
		if (invite.Length() == 1) != canInvite {
			t.Errorf("canInvite=%v: %d invite forms", canInvite, invite.Length())
		}
	}
	if d := parse(t, ChatPage(Page{}, sidebarChat(true))); d.Find(".members").Length() != 0 {
		t.Error("an open room lists members")
	}
}

func TestChatTitle(t *testing.T) {
	tests := []struct {
		c    Chat
		want string
	}{
		{Chat{}, "Chatzilla"},
		{Chat{UnreadTotal: 2}, "(2) Chatzilla"},
		{Chat{Room: RoomLink{ID: 2, Slug: "design", Name: "design"}}, "design – Chatzilla"},
		{Chat{Room: RoomLink{ID: 2, Slug: "design", Name: "design"}, UnreadTotal: 3}, "(3) design – Chatzilla"},
		{Chat{Room: RoomLink{ID: 4, Slug: "dm-1", Kind: "direct", Other: "carol@example.com"}}, "carol@example.com – Chatzilla"},
	}
	for _, tt := range tests {
		d := parse(t, ChatPage(Page{}, tt.c))
		if got := d.Find("title").Text(); got != tt.want {
			t.Errorf("title %q, want %q", got, tt.want)
		}
		if got, want := d.Find(".app").AttrOr("data-title", ""), tt.c.BaseTitle(); got != want || strings.HasPrefix(got, "(") {
			t.Errorf("data-title %q", got)
		}
	}
	if got := parse(t, JoinPage(Page{}, JoinForm{})).Find("title").Text(); got != "Chatzilla" {
		t.Errorf("join page title %q", got)
	}
}

func TestUnreadBadgesSwapOutOfBand(t *testing.T) {
	var b bytes.Buffer
	if err := UnreadBadges([]RoomLink{{ID: 3, Unread: 0}, {ID: 7, Unread: 250}}).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	want := `<span id="unread-3" class="unread" hx-swap-oob="true"></span><span id="unread-7" class="unread" hx-swap-oob="true">99+</span>`
	if b.String() != want {
		t.Errorf("got  %s\nwant %s", b.String(), want)
	}
}
