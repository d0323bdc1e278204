package views

import (
	"bytes"
	"context"
	"fmt"
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
	tm := d.Find("li#m-9 > time")
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
	// The time comes after the content, inside the item.
	if first := d.Find("li#m-9").Children().First(); goquery.NodeName(first) != "b" {
		t.Errorf("first child is %s, want the sender's <b>", goquery.NodeName(first))
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
		if !strings.HasPrefix(c, "av-") || len(c) != 4 || c[3] < '0' || c[3] > '7' {
			t.Fatalf("AvatarClass = %q, want av-0 … av-7", c)
		}
		seen[c] = true
	}
	if len(seen) < 4 {
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
