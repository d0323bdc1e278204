package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// screens are the window sizes and colour schemes the layout is checked at.
var screens = []screen{
	{"desktop light", 1280, 800, false, false},
	{"desktop dark", 1280, 800, false, true},
	{"phone light", 360, 740, true, false},
	{"phone dark", 360, 740, true, true},
}

// shownItem is how a message is laid out on the page.
type shownItem struct {
	ID         string  `json:"id"`
	Lines      float64 `json:"lines"`      // lines of text, roughly
	TimeInside bool    `json:"timeInside"` // the <time> box lies within the item's
	Header     bool    `json:"header"`     // a name and an address on show
	Sender     string  `json:"sender"`     // the <b>, shown or not
	Own        bool    `json:"own"`
}

const layoutOf = `Array.from(document.querySelectorAll("#messages > li.msg"), li => {
	const box = li.getBoundingClientRect(), t = li.querySelector("time:not(.day)").getBoundingClientRect();
	const b = li.querySelector("b"), text = li.querySelector(":scope > bdi");
	const shown = e => { const r = e.getBoundingClientRect(); return r.width > 1 && r.height > 1 && getComputedStyle(e).display !== "none"; };
	return {
		id: li.id,
		lines: text.getBoundingClientRect().height / parseFloat(getComputedStyle(text).lineHeight),
		timeInside: t.width > 0 && t.left >= box.left - 0.5 && t.right <= box.right + 0.5 && t.top >= box.top - 0.5 && t.bottom <= box.bottom + 0.5,
		header: getComputedStyle(li, "::after").content !== "none" && (shown(b) || matchMedia("(max-width: 720px)").matches),
		sender: b.textContent,
		own: li.classList.contains("own"),
	};
})`

func TestBrowserConversationLayout(t *testing.T) {
	chromium := requireChromium(t)
	app := startChatzilla(t, map[string]string{"RATE_LIMITS": "off"})
	dave := join(t, app.URL, "dave@example.com")
	alice := join(t, app.URL, "alice@example.com")
	dave.say("Morning all")
	dave.say("Two messages from me in a row: one header")
	alice.say("A long message that wraps over several lines at any width, so that its time has to stay inside its own row " +
		"rather than float out of it over the next message: " + strings.Repeat("and on ", 20) + "to the end.")
	dave.say("Links: https://example.com/a/very/long/path/that/has/to/wrap/on/a/phone?with=query&and=more#fragment " +
		"and javascript:alert(1) and data:text/html,<script>alert(1)</script> stay text.")

	browser := startBrowser(t, chromium)
	for _, s := range screens {
		t.Run(s.name, func(t *testing.T) {
			p := browser.open(t, "Alice", javaScriptOn)
			p.show(s)
			p.join(app.URL, "alice@example.com")
			p.keepPageOpen()
			if got := evaluate[bool](p, `matchMedia("(prefers-color-scheme: dark)").matches`); got != s.dark {
				t.Fatalf("dark scheme: %v, want %v", got, s.dark)
			}

			items := evaluate[[]shownItem](p, layoutOf)
			if len(items) != 4 {
				t.Fatalf("%d messages shown, want 4: %+v", len(items), items)
			}
			wrapped := items[2]
			if wrapped.Lines < 2 {
				t.Fatalf("the long message takes %.1f lines: this test proves nothing", wrapped.Lines)
			}
			for _, it := range items {
				if !it.TimeInside {
					t.Errorf("the time of %s (%.1f lines) lies outside its row", it.ID, it.Lines)
				}
			}
			// Dave's first two messages: one group, one header; the second
			// keeps its sender in the markup.
			if !items[0].Header || items[1].Header || !items[2].Header || !items[3].Header {
				t.Errorf("headers shown: %v %v %v %v, want all but the second", items[0].Header, items[1].Header, items[2].Header, items[3].Header)
			}
			if items[1].Sender != "dave@example.com" {
				t.Errorf("the second of a group has the sender %q in its markup, want dave@example.com", items[1].Sender)
			}
			if items[0].Own || !items[2].Own || items[3].Own {
				t.Errorf("own messages: %v %v %v, want only Alice's", items[0].Own, items[2].Own, items[3].Own)
			}

			links := evaluate[[]map[string]string](p, `Array.from(document.querySelectorAll("#messages a"), a => ({href: a.getAttribute("href"), rel: a.rel, target: a.target, text: a.textContent}))`)
			if len(links) != 1 || !strings.HasPrefix(links[0]["href"], "https://example.com/a/very/long") ||
				links[0]["rel"] != "noopener noreferrer nofollow ugc" || links[0]["target"] != "_blank" || links[0]["text"] != links[0]["href"] {
				t.Errorf("links in the list: %q, want the https address alone, as a link with rel=noopener noreferrer nofollow ugc, target=_blank", links)
			}
			if !strings.Contains(p.messages()[3].Text, "javascript:alert(1) and data:text/html,<script>alert(1)</script> stay text.") {
				t.Errorf("the javascript: and data: text is not shown as text: %q", p.messages()[3].Text)
			}
			if w := evaluate[int](p, `document.documentElement.scrollWidth`); w > int(s.width) {
				t.Errorf("the page is %d px wide in a %d px window; the widest elements are %q", w, s.width, evaluate[[]string](p, widestElements))
			}
			p.expectNoConsoleErrors("the chat page")
		})
	}
}

func TestBrowserEmptyRoomInvitesTheFirstMessage(t *testing.T) {
	chromium := requireChromium(t)
	app := startChatzilla(t, nil)
	browser := startBrowser(t, chromium)
	for _, js := range []javaScript{javaScriptOn, javaScriptOff} {
		t.Run(fmt.Sprintf("JavaScript %v", js), func(t *testing.T) {
			p := browser.open(t, "Alice", js)
			p.join(app.URL, "alice@example.com")
			empty := `(e => e !== null && e.getClientRects().length > 0 ? e.textContent.replace(/\s+/g, " ").trim() : "")(document.querySelector("#messages > li.empty"))`
			if got := evaluate[string](p, empty); !strings.HasPrefix(got, "No messages yet.") {
				t.Fatalf("the empty room shows %q, want it to say there are no messages yet; #messages is:\n%s", got, p.messagesHTML())
			}
		})
	}
	alice := browser.open(t, "Alice", javaScriptOn)
	alice.join(app.URL, "alice@example.com")
	alice.keepPageOpen()
	sent := alice.send("First!")
	alice.waitForLiveMessage("alice@example.com: First!", sent)
	if evaluate[bool](alice, `document.querySelector("#messages > li.empty").getClientRects().length > 0`) {
		t.Error("the empty-room text is still shown after the first message")
	}
}

func TestBrowserWithoutJavaScriptOpensAtTheNewest(t *testing.T) {
	chromium := requireChromium(t)
	app := startChatzilla(t, map[string]string{"RATE_LIMITS": "off"})
	dave := join(t, app.URL, "dave@example.com")
	for i := 1; i <= 60; i++ {
		dave.say(fmt.Sprintf("message %d", i))
	}
	browser := startBrowser(t, chromium)
	for _, s := range []screen{screens[0], screens[2]} {
		t.Run(s.name, func(t *testing.T) {
			carol := browser.open(t, "Carol", javaScriptOff)
			carol.show(s)
			carol.join(app.URL, "carol@example.com")
			if sc := carol.messagesScroll("m-60"); !sc.InView || sc.ScrollHeight < 2*sc.ClientHeight {
				t.Fatalf("without JavaScript the page opens at %+v, want the newest message in view of a list that scrolls", sc)
			}
			carol.sendWithPlainForm("made it to the bottom on " + s.name)
			id := evaluate[string](carol, `document.querySelector("#messages > li.msg:last-of-type").id`)
			if got := carol.messages(); got[len(got)-1].Text != "carol@example.com: made it to the bottom on "+s.name {
				t.Fatalf("the last message is %q", got[len(got)-1].Text)
			}
			if sc := carol.messagesScroll(id); !sc.InView {
				t.Errorf("after posting without JavaScript, Carol's message is out of view: %+v", sc)
			}
			if !evaluate[bool](carol, fmt.Sprintf(`(r => r.top >= 0 && r.bottom <= innerHeight)(document.getElementById(%q).getBoundingClientRect())`, id)) {
				t.Errorf("Carol's message is not within the window")
			}
		})
	}
}

func TestBrowserTabTitleCountsUnread(t *testing.T) {
	chromium := requireChromium(t)
	app := startChatzilla(t, nil)
	dave := join(t, app.URL, "dave@example.com")
	chrome := startBrowser(t, chromium)
	alice := chrome.open(t, "Alice", javaScriptOn)
	alice.join(app.URL, "alice@example.com")
	alice.keepPageOpen()
	alice.waitForNotice(liveDeadline, "alice@example.com joined") // the stream is up

	// Minimising the window hides the chat, as switching tabs does.
	alice.setWindowState(browser.WindowStateMinimized)
	alice.waitUntil(liveDeadline, "the chat's tab is hidden", func() string {
		if !evaluate[bool](alice, `document.hidden`) {
			return "document.hidden is false"
		}
		return ""
	})
	for i := 1; i <= 3; i++ {
		sent := time.Now()
		dave.say(fmt.Sprintf("while you were away %d", i))
		alice.waitForLiveMessage(fmt.Sprintf("dave@example.com: while you were away %d", i), sent)
	}
	if got := evaluate[string](alice, `document.title`); got != "(3) Chatzilla" {
		t.Errorf("with the tab hidden, the title is %q after 3 messages, want (3) Chatzilla", got)
	}
	alice.setWindowState(browser.WindowStateNormal)
	alice.waitUntil(liveDeadline, "the title is plain again once the tab is back", func() string {
		if got := evaluate[string](alice, `document.title`); got != "Chatzilla" {
			return "the title is " + got
		}
		return ""
	})
}

func TestBrowserComposerGrowsCountsAndSendsOnlyText(t *testing.T) {
	chromium := requireChromium(t)
	app := startChatzilla(t, map[string]string{"MESSAGE_MAX_LENGTH": "300"})
	browser := startBrowser(t, chromium)
	alice := browser.open(t, "Alice", javaScriptOn)
	alice.join(app.URL, "alice@example.com")
	alice.keepPageOpen()

	type composer struct {
		Height    float64 `json:"height"`
		SendOff   bool    `json:"sendOff"`
		Left      string  `json:"left"` // the count, "" while hidden
		MaxLength int     `json:"maxLength"`
		Error     bool    `json:"error"`
	}
	state := func() composer {
		return evaluate[composer](alice, `(() => {
			const box = document.querySelector("#message"), left = document.querySelector("#message-left");
			return {height: box.getBoundingClientRect().height, sendOff: document.querySelector("#send").disabled,
				left: left.hidden ? "" : left.textContent, maxLength: box.maxLength, error: document.querySelector("#message-error") !== null};
		})()`)
	}
	empty := state()
	if !empty.SendOff || empty.Left != "" || empty.MaxLength != 300 {
		t.Errorf("an empty composer: %+v, want Send off, no count, maxlength 300", empty)
	}
	alice.do(chromedp.SendKeys(chromedp.CSS("#message"), "  "))
	if !state().SendOff {
		t.Error("Send is on for a composer holding only spaces")
	}
	// The server still refuses blank text (a form can be sent without the
	// button); the error goes as soon as the text changes.
	evaluate[bool](alice, `document.querySelector("#composer").requestSubmit(), true`)
	alice.waitUntil(liveDeadline, "the server's error", func() string {
		if !state().Error {
			return "no error shown"
		}
		return ""
	})
	alice.do(chromedp.SendKeys(chromedp.CSS("#message"), "h"))
	if state().Error {
		t.Error("the error is still shown after the text changed")
	}
	alice.do(chromedp.KeyEvent("\b"), chromedp.KeyEvent("\b"), chromedp.KeyEvent("\b"))
	for i, line := range []string{"one", "two", "three", "four"} {
		if i > 0 {
			alice.do(chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierShift)))
		}
		alice.do(chromedp.SendKeys(chromedp.CSS("#message"), line))
	}
	typed := state()
	if typed.SendOff || typed.Height < empty.Height*1.5 {
		t.Errorf("after four lines: %+v, want Send on and the box taller than the empty one (%.0f px)", typed, empty.Height)
	}
	alice.do(chromedp.SendKeys(chromedp.CSS("#message"), strings.Repeat("a", 250)))
	if got := state().Left; !strings.HasSuffix(got, "characters left") {
		t.Errorf("near the limit the count says %q, want how many characters are left", got)
	}
}

func TestBrowserWithoutJavaScriptCountsAsOnline(t *testing.T) {
	chromium := requireChromium(t)
	app := startChatzilla(t, nil)
	browser := startBrowser(t, chromium)
	alice := browser.open(t, "Alice", javaScriptOn)
	carol := browser.open(t, "Carol", javaScriptOff)
	alice.join(app.URL, "alice@example.com")
	alice.keepPageOpen()
	alice.waitForOnline(liveDeadline, "alice@example.com")
	carol.join(app.URL, "carol@example.com")
	alice.waitForOnline(liveDeadline, "alice@example.com", "carol@example.com")
	if note := evaluate[string](alice, `document.querySelector("#people .people-note").textContent`); !strings.Contains(note, "without JavaScript") {
		t.Errorf("the list of who's online does not say how readers without JavaScript count: %q", note)
	}
	// Two joins in a row read as one notice; both stay in the markup.
	alice.waitForNotice(liveDeadline, "carol@example.com joined")
	shown := evaluate[[]string](alice, `Array.from(document.querySelectorAll("#messages > li.notice"))
		.filter(li => li.getClientRects().length > 0)
		.map(li => { const b = li.querySelector("b"); return b.textContent + JSON.parse(getComputedStyle(b, "::after").content || '""') + " " + li.dataset.event; })`)
	if len(shown) != 1 || shown[0] != "alice@example.com and 1 other joined" {
		t.Errorf("the notices shown are %q, want one: alice@example.com and 1 other joined", shown)
	}
}

// TestBrowserPhoneHeaderFitsWhileReconnecting: on a phone the header is one
// row, with no room for the "Reconnecting…" badge as well; the badge must
// not push the Leave buttons off the screen while the server is away.
func TestBrowserPhoneHeaderFitsWhileReconnecting(t *testing.T) {
	chromium := requireChromium(t)
	app := startChatzilla(t, nil)
	browser := startBrowser(t, chromium)
	alice := browser.open(t, "Alice", javaScriptOn)
	alice.join(app.URL, "alice@example.com")
	alice.keepPageOpen()
	alice.show(screen{width: 360, height: 740, phone: true})
	alice.waitForNotice(liveDeadline, "alice@example.com joined") // her stream is up
	if err := app.stop(); err != nil {
		t.Fatalf("stopping chatzilla: %v", err)
	}
	alice.waitUntil(reconnectDeadline, "Reconnecting… is shown", func() string {
		if !alice.connectionShown() {
			return "it is not shown"
		}
		return ""
	})
	// A phone widens its layout viewport to fit what overflows, so the
	// window's width is checked against the screen's, not taken from it.
	const width = 360
	if w := evaluate[int](alice, `window.innerWidth`); w != width {
		t.Errorf("while reconnecting, the window is %d px wide, want %d: something overflows sideways; the widest elements are %q", w, width, evaluate[[]string](alice, widestElements))
	}
	if w := evaluate[int](alice, `document.documentElement.scrollWidth`); w > width {
		t.Errorf("while reconnecting, the page is %d px wide in a %d px window; the widest elements are %q", w, width, evaluate[[]string](alice, widestElements))
	}
	for _, button := range []string{`button[aria-label="Leave"]`, `button[aria-label="Leave on every device"]`} {
		right := evaluate[float64](alice, `document.querySelector('`+button+`').getBoundingClientRect().right`)
		if right > float64(width) {
			t.Errorf("while reconnecting, %s ends at %.0f px, past the %d px screen", button, right, width)
		}
	}
}
