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
