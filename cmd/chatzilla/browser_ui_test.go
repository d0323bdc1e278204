package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The chat page as people use it, beyond sending and reading: who is online,
// the keyboard, scrolling, reconnecting after a restart, older messages, the
// page on a laptop and on a phone, and accessibility. It drives the harness
// of browser_test.go. (Longer than our usual file: one test per acceptance
// criterion of the chat UI issue, with the few helpers only they use.)

const (
	// reconnectDeadline allows for htmx's back-off between attempts: 0.5 s
	// doubling, with jitter, while the server is away.
	reconnectDeadline = 10 * time.Second
	// nearBottom is how close to the end of the list counts as "at the
	// bottom" for a reader, in CSS pixels.
	nearBottom = 50
)

func TestBrowserPresence(t *testing.T) {
	chromium := requireChromium(t)
	browser := startBrowser(t, chromium)

	t.Run("Leave is seen at once", func(t *testing.T) {
		// The default grace period (5 s) is longer than liveDeadline: only
		// a Leave that skips it passes.
		app := startChatzilla(t, nil)
		alice, _, carol := threeInTheChat(t, browser, app)

		carol.submit(`form[action="/leave"] button[type="submit"]`)
		if !evaluate[bool](carol, `document.querySelector("#email") !== null`) {
			t.Errorf("after Leave, Carol does not see the join form:\n%s", evaluate[string](carol, `document.body.outerHTML`))
		}
		alice.waitForOnline(liveDeadline, "alice@example.com", "bob@example.com")
		alice.waitForNotice(liveDeadline, "carol@example.com left")
		alice.expectNotices("alice@example.com joined", "bob@example.com joined", "carol@example.com joined", "carol@example.com left")
	})

	t.Run("a person leaves with their last tab", func(t *testing.T) {
		app := startChatzilla(t, map[string]string{"PRESENCE_GRACE": "100ms"})
		alice, bob, carol := threeInTheChat(t, browser, app)

		// Bob opens the chat in a second tab: the same cookies, the same
		// person, so nobody new is online.
		bobAgain, closeBobAgain := bob.openSecondTab(t)
		bobAgain.do(chromedp.Navigate(app.URL + "/"))
		if !evaluate[bool](bobAgain, `document.querySelector("#composer") !== null`) {
			t.Fatalf("Bob's second tab does not show the chat:\n%s", evaluate[string](bobAgain, `document.body.outerHTML`))
		}
		bobAgain.waitUntil(liveDeadline, "the second tab goes live", func() string {
			if n := countLog(app, `msg="stream connected"`, "sender=bob@example.com"); n != 2 {
				return fmt.Sprintf("chatzilla logged %d stream connections of Bob's, want 2; htmx has set up this tab's list: %v",
					n, evaluate[bool](bobAgain, `"_htmx" in document.querySelector("#messages")`))
			}
			return ""
		})
		everyone := []string{"alice@example.com", "bob@example.com", "carol@example.com"}
		alice.expectOnline(everyone...)
		bobAgain.expectOnline(everyone...)

		// Closing one of Bob's tabs keeps him online; Carol closes her
		// only one and leaves once the grace period is over. Presence is
		// published in order, so anything Bob's second tab did to it,
		// opening or closing, shows on Alice's page by the time Carol's
		// leaving does.
		closeBobAgain()
		waitForLog(t, app, 1, `msg="stream disconnected"`, "sender=bob@example.com")
		carol.closeBrowser()
		alice.waitForOnline(liveDeadline, "alice@example.com", "bob@example.com")
		alice.waitForNotice(liveDeadline, "carol@example.com left")
		alice.expectNotices("alice@example.com joined", "bob@example.com joined", "carol@example.com joined", "carol@example.com left")
		bob.waitForOnline(liveDeadline, "alice@example.com", "bob@example.com")
	})
}

// threeInTheChat has Alice, Bob and then Carol join, each at their own
// browser, and checks that Alice sees Carol arrive.
func threeInTheChat(t *testing.T, browser *testBrowser, app *instance) (alice, bob, carol *browserPerson) {
	t.Helper()
	alice = browser.open(t, "Alice", javaScriptOn)
	bob = browser.open(t, "Bob", javaScriptOn)
	carol = browser.open(t, "Carol", javaScriptOn)
	alice.join(app.URL, "alice@example.com")
	alice.keepPageOpen()
	bob.join(app.URL, "bob@example.com")
	bob.keepPageOpen()
	alice.waitForOnline(liveDeadline, "alice@example.com", "bob@example.com")

	carol.join(app.URL, "carol@example.com")
	carol.keepPageOpen()
	alice.waitForOnline(liveDeadline, "alice@example.com", "bob@example.com", "carol@example.com")
	alice.waitForNotice(liveDeadline, "carol@example.com joined")
	return alice, bob, carol
}

// On a slow network the page's scripts arrive in any order, and the page
// must go live all the same. They are deferred, so each runs as soon as it
// and those before it have arrived; htmx starts on the page right after it
// has run, and would miss the stream if its SSE extension came later (which
// is why the two are one file). Here each script in turn comes last, well
// after the others.
func TestBrowserGoesLiveWhicheverScriptComesLast(t *testing.T) {
	chromium := requireChromium(t)
	app := startChatzilla(t, nil)
	browser := startBrowser(t, chromium)
	first := browser.open(t, "First", javaScriptOn)
	first.join(app.URL, "first@example.com")
	scripts := evaluate[[]string](first, `[...document.scripts].map((s) => new URL(s.src).pathname)`)
	if len(scripts) < 2 {
		t.Fatalf("the chat page has scripts %q; want htmx and chat.js", scripts)
	}
	bob := join(t, app.URL, "bob@example.com")
	for _, slow := range scripts {
		alice := browser.open(t, "Alice, with "+slow+" slow", javaScriptOn)
		alice.delayRequests("*"+slow+"*", 300*time.Millisecond)
		alice.join(app.URL, "alice@example.com")
		alice.keepPageOpen()

		sent := time.Now()
		bob.say("Can you hear me, with " + slow + " last?")
		alice.waitForLiveMessage("bob@example.com: Can you hear me, with "+slow+" last?", sent)
	}
}

func TestBrowserEnterSendsShiftEnterAddsALine(t *testing.T) {
	chromium := requireChromium(t)
	app := startChatzilla(t, nil)
	browser := startBrowser(t, chromium)
	alice := browser.open(t, "Alice", javaScriptOn)
	bob := browser.open(t, "Bob", javaScriptOn)
	alice.join(app.URL, "alice@example.com")
	bob.join(app.URL, "bob@example.com")
	alice.keepPageOpen()
	bob.keepPageOpen()

	alice.do(chromedp.SendKeys(chromedp.CSS("#message"), "Sent with Enter"))
	sent := time.Now()
	alice.do(chromedp.KeyEvent(kb.Enter))
	bob.waitForLiveMessage("alice@example.com: Sent with Enter", sent)
	alice.waitForEmptyFocusedComposer(sent)

	alice.do(
		chromedp.SendKeys(chromedp.CSS("#message"), "First line"),
		chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierShift)),
	)
	if v := alice.composerText(); v != "First line\n" {
		t.Fatalf("after Shift+Enter, Alice's composer holds %q, want %q", v, "First line\n")
	}
	alice.do(chromedp.SendKeys(chromedp.CSS("#message"), "Second line"))
	sent = time.Now()
	alice.do(chromedp.KeyEvent(kb.Enter))

	twoLines := bob.waitForMessage("alice@example.com: First lineSecond line", sent)
	if !strings.Contains(twoLines.HTML, "<b><bdi>alice@example.com</bdi></b>: <bdi>First line<br>Second line") {
		t.Errorf("the two-line message is not shown on two lines: %s", twoLines.HTML)
	}
	// Had Shift+Enter sent "First line", Bob would have had it before.
	bob.expectMessages("alice@example.com: Sent with Enter", "alice@example.com: First lineSecond line")
	alice.waitForEmptyFocusedComposer(sent)
}

func TestBrowserScrollFollowsNewestUnlessReadingOlder(t *testing.T) {
	chromium := requireChromium(t)
	app := startChatzilla(t, map[string]string{"RATE_LIMITS": "off", "HISTORY_SIZE": "100"})
	dave := join(t, app.URL, "dave@example.com")
	for i := 1; i <= 60; i++ {
		dave.say(fmt.Sprintf("message %d", i))
	}
	browser := startBrowser(t, chromium)
	alice := browser.open(t, "Alice", javaScriptOn)
	alice.join(app.URL, "alice@example.com")
	alice.keepPageOpen()

	s := alice.messagesScroll("m-60")
	if s.ScrollHeight < 2*s.ClientHeight {
		t.Fatalf("60 messages do not fill the list (%+v): this test proves nothing", s)
	}
	alice.waitUntil(liveDeadline, "the page opens at the newest message", func() string {
		return alice.messagesScroll("m-60").unlessAtBottom()
	})

	// A message taller than nearBottom, so that a list that did not follow
	// would leave it out of view.
	sent := time.Now()
	dave.say("line one\nline two\nline three")
	alice.waitUntil(liveDeadline, "a reader at the bottom sees the new message", func() string {
		return alice.messagesScroll("m-61").unlessAtBottom()
	})
	t.Logf("Alice at the bottom follows the new message %v after it was sent", time.Since(sent).Round(time.Millisecond))

	alice.scrollMessagesToTop()
	dave.say("while Alice reads old ones")
	alice.waitUntil(liveDeadline, "a reader scrolled up is offered the new message", func() string {
		s := alice.messagesScroll("m-62")
		if !s.Shown || !s.HintShown {
			return fmt.Sprintf("the list is %+v, want the message shown and the New messages button too", s)
		}
		return ""
	})
	if s := alice.messagesScroll("m-62"); s.ScrollTop != 0 || s.InView {
		t.Errorf("the list moved under a reader scrolled to the top: %+v, want scrollTop 0 and the new message out of view", s)
	}
	dave.say("and another")
	alice.waitUntil(liveDeadline, "the button counts the new messages", func() string {
		if got := evaluate[string](alice, `document.querySelector("#new-messages").textContent`); got != "2 new messages ↓" {
			return "it says " + got
		}
		return ""
	})

	alice.do(chromedp.Click(chromedp.CSS("#new-messages")))
	alice.waitUntil(liveDeadline, "New messages ↓ goes to the newest and goes away", func() string {
		s := alice.messagesScroll("m-63")
		if s.HintShown {
			return "the New messages button is still shown"
		}
		return s.unlessAtBottom()
	})
}

func TestBrowserReconnectsAfterRestart(t *testing.T) {
	chromium := requireChromium(t)
	db := "sqlite:" + t.TempDir() + "/chat.db"
	first := startChatzilla(t, map[string]string{"DATABASE_URL": db})
	u, err := url.Parse(first.URL)
	if err != nil {
		t.Fatal(err)
	}
	browser := startBrowser(t, chromium)
	alice := browser.open(t, "Alice", javaScriptOn)
	alice.join(first.URL, "alice@example.com")
	alice.keepPageOpen()
	alice.waitForNotice(liveDeadline, "alice@example.com joined") // her stream is up
	if alice.connectionShown() {
		t.Fatalf("Reconnecting… is shown while connected: %s", alice.connectionHTML())
	}
	sent := time.Now()
	join(t, first.URL, "bob@example.com").say("before the restart")
	alice.waitForLiveMessage("bob@example.com: before the restart", sent)

	if err := first.stop(); err != nil {
		t.Fatalf("stopping the first instance: %v", err)
	}
	stopped := time.Now()
	alice.waitUntil(5*time.Second, "Reconnecting… shows while the server is away", func() string {
		if !alice.connectionShown() || !strings.Contains(alice.connectionHTML(), "Reconnecting…") {
			return "it is not shown: " + alice.connectionHTML()
		}
		return ""
	})
	t.Logf("Reconnecting… shown %v after the server stopped", time.Since(stopped).Round(time.Millisecond))

	// The same address, database and session secret: the page reconnects
	// to where it was, and Alice is still joined.
	second := startChatzilla(t, map[string]string{"PORT": u.Port(), "DATABASE_URL": db})
	if second.URL != first.URL {
		t.Fatalf("the second instance is at %s, want %s", second.URL, first.URL)
	}
	join(t, second.URL, "bob@example.com").say("while you were away")
	back := alice.waitUntil(reconnectDeadline, "Reconnecting… goes away once reconnected", func() string {
		if alice.connectionShown() {
			return "it is still shown: " + alice.connectionHTML()
		}
		return ""
	})
	t.Logf("reconnected %v after the second instance started", back.Round(time.Millisecond))
	alice.waitForMessage("bob@example.com: while you were away", time.Now())

	sent = time.Now()
	join(t, second.URL, "carol@example.com").say("after the restart")
	alice.waitForLiveMessage("carol@example.com: after the restart", sent)
	alice.expectMessages("bob@example.com: before the restart", "bob@example.com: while you were away", "carol@example.com: after the restart")
}

func TestBrowserLoadOlderMessages(t *testing.T) {
	chromium := requireChromium(t)
	app := startChatzilla(t, map[string]string{"HISTORY_SIZE": "5"})
	dave := join(t, app.URL, "dave@example.com")
	for i := 1; i <= 12; i++ {
		dave.say(fmt.Sprintf("message %d", i))
	}
	browser := startBrowser(t, chromium)
	davesMessages := func(from, to int) []string {
		var want []string
		for i := from; i <= to; i++ {
			want = append(want, fmt.Sprintf("dave@example.com: message %d", i))
		}
		return want
	}

	t.Run("with JavaScript", func(t *testing.T) {
		alice := browser.open(t, "Alice", javaScriptOn)
		alice.join(app.URL, "alice@example.com")
		alice.keepPageOpen()
		alice.expectMessages(davesMessages(8, 12)...)
		alice.expectOlderLink("/?before=8")

		alice.do(chromedp.Click(chromedp.CSS("#older a")))
		alice.waitUntil(liveDeadline, "the previous 5 messages go in above", func() string {
			return alice.unlessMessagesInOrder(davesMessages(3, 12))
		})
		alice.expectOlderLink("/?before=3")

		alice.do(chromedp.Click(chromedp.CSS("#older a")))
		alice.waitUntil(liveDeadline, "the first 2 messages go in above", func() string {
			return alice.unlessMessagesInOrder(davesMessages(1, 12))
		})
		alice.expectOlderLink("")
		if !evaluate[bool](alice, `window.chatzillaPageKeptOpen === true`) {
			t.Error("Load older messages reloaded the page; with JavaScript it should add to it")
		}
	})

	t.Run("without JavaScript", func(t *testing.T) {
		carol := browser.open(t, "Carol", javaScriptOff)
		carol.join(app.URL, "carol@example.com")
		carol.expectMessages(davesMessages(8, 12)...)
		carol.expectOlderLink("/?before=8")

		carol.submit("#older a")
		if got := evaluate[string](carol, `location.pathname + location.search`); got != "/?before=8" {
			t.Errorf("Load older messages led to %s, want /?before=8", got)
		}
		carol.expectMessages(davesMessages(3, 7)...)
		carol.expectOlderLink("/?before=3")
		latest := evaluate[[]string](carol, `Array.from(document.querySelectorAll("#messages a"), a => a.textContent + " -> " + a.getAttribute("href"))`)
		if !slices.Contains(latest, "Show the latest messages -> /") {
			t.Fatalf("the page of older messages has no link back to the latest; its links are %q", latest)
		}

		carol.submit(`#messages a[href="/"]`)
		carol.expectMessages(davesMessages(8, 12)...)
	})
}

func TestBrowserScreenshotsDesktopAndPhone(t *testing.T) {
	chromium := requireChromium(t)
	app := startChatzilla(t, nil)
	browser := startBrowser(t, chromium)
	alice := browser.open(t, "Alice", javaScriptOn)
	bob := browser.open(t, "Bob", javaScriptOn)
	carol := browser.open(t, "Carol", javaScriptOn)
	alice.do(chromedp.EmulateViewport(1280, 800))
	bob.do(chromedp.EmulateViewport(360, 740, chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch))

	alice.join(app.URL, "alice@example.com")
	alice.keepPageOpen()
	bob.join(app.URL, "bob.martinez@example.org")
	bob.keepPageOpen()
	carol.join(app.URL, "carol.nguyen@example.com")
	carol.keepPageOpen()
	everyone := []string{"alice@example.com", "bob.martinez@example.org", "carol.nguyen@example.com"}
	alice.waitForOnline(liveDeadline, everyone...)
	bob.waitForOnline(liveDeadline, everyone...)

	say := func(from *browserPerson, sender string, lines ...string) {
		t.Helper()
		sent := from.sendLines(lines...)
		want := sender + ": " + strings.Join(lines, "")
		for _, p := range []*browserPerson{alice, bob, carol} {
			p.waitForMessage(want, sent)
		}
		from.waitForEmptyFocusedComposer(sent)
	}
	say(alice, "alice@example.com", "Morning! Who's up for lunch at 12:30?")
	say(bob, "bob.martinez@example.org", "Me! The new ramen place on 5th?")
	say(carol, "carol.nguyen@example.com", "Count me in.", "I'll book a table for three:",
		"https://example.com/reservations/ramen-on-fifth?party=3&time=12:30&note=window-seat-please")
	say(alice, "alice@example.com", "Perfect, see you there")

	for _, p := range []*browserPerson{alice, bob} {
		width := evaluate[int](p, `window.innerWidth`)
		if w := evaluate[int](p, `document.documentElement.scrollWidth`); w > width {
			t.Errorf("%s's page is %d px wide in a %d px window: something overflows sideways; the widest elements are %q",
				p.name, w, width, evaluate[[]string](p, widestElements))
		}
	}
	if w := evaluate[int](bob, `window.innerWidth`); w != 360 {
		t.Errorf("Bob's phone is %d px wide, want 360", w)
	}
	alice.saveScreenshot("chat-desktop.png")
	bob.saveScreenshot("chat-mobile.png")
	alice.show(screen{width: 1280, height: 800, dark: true})
	alice.saveScreenshot("chat-desktop-dark.png")
}

// widestElements names the elements that reach furthest right, to explain a
// page that scrolls sideways.
const widestElements = `Array.from(document.querySelectorAll("body *"))
	.map(e => [e.getBoundingClientRect().right, e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className ? "." + String(e.className).split(" ").join(".") : "")])
	.sort((a, b) => b[0] - a[0]).slice(0, 5).map(([right, name]) => name + " to " + Math.round(right) + "px")`

func TestBrowserAccessibilitySpotChecks(t *testing.T) {
	chromium := requireChromium(t)
	app := startChatzilla(t, nil)
	browser := startBrowser(t, chromium)
	alice := browser.open(t, "Alice", javaScriptOn)

	alice.do(chromedp.Navigate(app.URL + "/"))
	alice.expectNamedControls(map[string]string{
		"input#email": "Type your email to join the chat",
		"button":      "Join",
	})
	alice.expectNoConsoleErrors("the join page")

	alice.join(app.URL, "alice@example.com")
	alice.keepPageOpen()
	alice.waitForNotice(liveDeadline, "alice@example.com joined") // the stream is up too
	// The live region wraps the list, which stays a list.
	log := evaluate[map[string]string](alice, `Object.fromEntries(["role", "aria-live"].map(a => [a, document.querySelector("#messages").parentElement.getAttribute(a)]))`)
	if log["role"] != "log" || log["aria-live"] != "polite" {
		t.Errorf("#messages is in role=%q aria-live=%q, want log and polite, so that screen readers read new messages", log["role"], log["aria-live"])
	}
	alice.expectNamedControls(map[string]string{
		"textarea#message":    "Message",
		"button#send":         "Send",
		"button":              "Leave",
		"button#new-messages": "New messages ↓",
	})
	alice.expectNoConsoleErrors("the chat page")
}

// waitUntil polls until check finds nothing wrong with p's page, for at most
// within, and returns how long that took. check says what is wrong, or "".
func (p *browserPerson) waitUntil(within time.Duration, what string, check func() string) time.Duration {
	p.t.Helper()
	start := time.Now()
	for {
		wrong := check()
		if wrong == "" {
			return time.Since(start)
		}
		if time.Since(start) > within {
			p.t.Fatalf("%s's page, within %v: %s: %s", p.name, within, what, wrong)
		}
		time.Sleep(pollInterval)
	}
}

// shownPeople is the "who's online" panel.
type shownPeople struct {
	Count  string   `json:"count"`
	People []string `json:"people"`
}

func (p *browserPerson) online() shownPeople {
	p.t.Helper()
	return evaluate[shownPeople](p, `(a => ({
		count: a.querySelector("h2 .count").textContent.trim(),
		people: Array.from(a.querySelectorAll("ul > li > .person"), p => p.textContent.trim()),
	}))(document.querySelector("#people"))`)
}

func (want shownPeople) unlessShown(got shownPeople) string {
	if got.Count != want.Count || !slices.Equal(got.People, want.People) {
		return fmt.Sprintf("Online %s %q, want Online %s %q", got.Count, got.People, want.Count, want.People)
	}
	return ""
}

func onlineNow(emails ...string) shownPeople {
	return shownPeople{Count: strconv.Itoa(len(emails)), People: emails}
}

func (p *browserPerson) waitForOnline(within time.Duration, emails ...string) {
	p.t.Helper()
	p.waitUntil(within, "who's online", func() string { return onlineNow(emails...).unlessShown(p.online()) })
}

func (p *browserPerson) expectOnline(emails ...string) {
	p.t.Helper()
	if wrong := onlineNow(emails...).unlessShown(p.online()); wrong != "" {
		p.t.Errorf("%s's page: %s", p.name, wrong)
	}
}

// notices are the "… joined" and "… left" lines of the list, in order.
func (p *browserPerson) notices() []string {
	p.t.Helper()
	return evaluate[[]string](p, `Array.from(document.querySelectorAll("#messages > li.notice"), li => li.textContent.replace(/\s+/g, " ").trim())`)
}

func (p *browserPerson) waitForNotice(within time.Duration, notice string) {
	p.t.Helper()
	p.waitUntil(within, "the notice "+notice, func() string {
		if got := p.notices(); !slices.Contains(got, notice) {
			return fmt.Sprintf("the notices are %q", got)
		}
		return ""
	})
}

func (p *browserPerson) expectNotices(want ...string) {
	p.t.Helper()
	if got := p.notices(); !slices.Equal(got, want) {
		p.t.Errorf("%s sees the notices\n\t%q\nwant\n\t%q", p.name, got, want)
	}
}

// openSecondTab opens another tab of p's browser: the same browser context,
// so the same cookies. close closes the tab.
func (p *browserPerson) openSecondTab(t *testing.T) (tab *browserPerson, close func()) {
	t.Helper()
	ctx, cancel := chromedp.NewContext(p.ctx)
	t.Cleanup(cancel)
	tab = &browserPerson{t: t, name: p.name + "'s second tab", ctx: ctx, console: &syncBuffer{}}
	tab.do(chromedp.EmulateViewport(viewportWidth, viewportHeight))
	return tab, cancel
}

// closeBrowser closes p's tab and browser context, as closing the window does.
func (p *browserPerson) closeBrowser() {
	p.t.Helper()
	if err := chromedp.Cancel(p.ctx); err != nil {
		p.t.Fatalf("closing %s's browser: %v", p.name, err)
	}
}

// countLog is how many lines the instance has logged that hold all of parts.
func countLog(inst *instance, parts ...string) int {
	n := 0
	for line := range strings.Lines(inst.logs.String()) {
		if !slices.ContainsFunc(parts, func(s string) bool { return !strings.Contains(line, s) }) {
			n++
		}
	}
	return n
}

// waitForLog waits until the instance has logged n lines that hold all of
// parts.
func waitForLog(t *testing.T, inst *instance, n int, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(liveDeadline)
	for {
		got := countLog(inst, parts...)
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("chatzilla logged %d lines with %q within %v, want %d", got, parts, liveDeadline, n)
		}
		time.Sleep(pollInterval)
	}
}

// delayRequests holds back each request of p's page whose URL matches
// pattern for d, as a slow network does, with the browser's cache off so
// that every page load asks again.
func (p *browserPerson) delayRequests(pattern string, d time.Duration) {
	p.t.Helper()
	paused := chromedp.Events(p.ctx, fetch.RequestPaused)
	if _, err := chromedp.Call(p.ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
		p.t.Fatalf("turning off %s's cache: %v", p.name, err)
	}
	if _, err := chromedp.Call(p.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: pattern}}}); err != nil {
		p.t.Fatalf("intercepting %s's requests: %v", p.name, err)
	}
	go func() {
		for ev, err := range paused {
			if err != nil {
				return // the test is over
			}
			time.AfterFunc(d, func() {
				// An error means the tab is gone, and the request with it.
				_, _ = chromedp.Call(p.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
			})
		}
	}()
}

// sendLines types lines into the composer, Shift+Enter between them, and
// sends them with Enter, as a person writing several lines does.
func (p *browserPerson) sendLines(lines ...string) time.Time {
	p.t.Helper()
	for i, line := range lines {
		if i > 0 {
			p.do(chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierShift)))
		}
		p.do(chromedp.SendKeys(chromedp.CSS("#message"), line))
	}
	sent := time.Now()
	p.do(chromedp.KeyEvent(kb.Enter))
	return sent
}

// waitForMessage waits until want, the text of a message that may span
// lines, shows in the list exactly once, at most liveDeadline after sent.
func (p *browserPerson) waitForMessage(want string, sent time.Time) shownMessage {
	p.t.Helper()
	var found []shownMessage
	p.waitUntil(liveDeadline-time.Since(sent), "the message "+want, func() string {
		found = slices.DeleteFunc(p.messages(), func(m shownMessage) bool { return m.Text != want })
		if len(found) == 0 {
			return "not there; #messages is:\n" + p.messagesHTML()
		}
		return ""
	})
	if len(found) > 1 {
		p.t.Fatalf("%s sees %q %d times, want once; #messages is:\n%s", p.name, want, len(found), p.messagesHTML())
	}
	return found[0]
}

// unlessMessagesInOrder says how the list differs from want: the messages in
// order, no duplicates, ids rising, and a "Load older messages" item only at
// the top.
func (p *browserPerson) unlessMessagesInOrder(want []string) string {
	p.t.Helper()
	var got []string
	for _, m := range p.messages() {
		got = append(got, m.Text)
	}
	if !slices.Equal(got, want) {
		return fmt.Sprintf("the messages are\n\t%q\nwant\n\t%q", got, want)
	}
	ids := evaluate[[]int](p, `Array.from(document.querySelectorAll("#messages > li[id^='m-']"), li => Number(li.id.slice(2)))`)
	if !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
		return fmt.Sprintf("the message ids are %v, want them rising, each once", ids)
	}
	if evaluate[bool](p, `Array.from(document.querySelectorAll("#messages > li.older")).some(li => li !== document.querySelector("#messages").firstElementChild)`) {
		return "a Load older messages item is not at the top:\n" + p.messagesHTML()
	}
	return ""
}

// expectOlderLink checks the "Load older messages" link at the top of the
// list and where it leads; href "" means there must be none.
func (p *browserPerson) expectOlderLink(href string) {
	p.t.Helper()
	got := evaluate[string](p, `(a => a ? a.textContent.trim() + " -> " + a.getAttribute("href") : "")(document.querySelector("#messages > li#older:first-child > a"))`)
	want := ""
	if href != "" {
		want = "Load older messages -> " + href
	}
	if got != want {
		p.t.Fatalf("%s sees the link %q at the top of the list, want %q; #messages is:\n%s", p.name, got, want, p.messagesHTML())
	}
}

// messagesScroll is where the message list is scrolled to, and where one
// message in it is.
type messagesScroll struct {
	ScrollTop    float64 `json:"scrollTop"`
	ScrollHeight float64 `json:"scrollHeight"`
	ClientHeight float64 `json:"clientHeight"`
	Shown        bool    `json:"shown"`     // the message is in the list
	InView       bool    `json:"inView"`    // and wholly within the list's view
	HintShown    bool    `json:"hintShown"` // "New messages ↓"
}

func (p *browserPerson) messagesScroll(messageID string) messagesScroll {
	p.t.Helper()
	return evaluate[messagesScroll](p, fmt.Sprintf(`((id) => {
		const list = document.querySelector("#messages").parentElement, item = document.getElementById(id);
		const hint = document.querySelector("#new-messages");
		const view = list.getBoundingClientRect(), box = item && item.getBoundingClientRect();
		return {
			scrollTop: list.scrollTop, scrollHeight: list.scrollHeight, clientHeight: list.clientHeight,
			shown: item !== null && item.parentElement === document.querySelector("#messages"),
			inView: item !== null && box.top >= view.top - 1 && box.bottom <= view.bottom + 1,
			hintShown: !hint.hidden && hint.getClientRects().length > 0,
		};
	})(%q)`, messageID))
}

// unlessAtBottom says why s is not a list at its end with the message in
// view.
func (s messagesScroll) unlessAtBottom() string {
	if !s.Shown || !s.InView || s.ScrollHeight-s.ScrollTop-s.ClientHeight >= nearBottom {
		return fmt.Sprintf("the list is %+v, want the message shown, in view, and the list within %d px of its bottom", s, nearBottom)
	}
	return ""
}

// scrollMessagesToTop scrolls the list up to its first message with the
// mouse wheel, as a reader going back does, and waits until the page has
// handled the scrolling.
func (p *browserPerson) scrollMessagesToTop() {
	p.t.Helper()
	box := evaluate[map[string]float64](p, `(r => ({x: r.x + r.width / 2, y: r.y + r.height / 2}))(document.querySelector("#scroller").getBoundingClientRect())`)
	p.waitUntil(liveDeadline, "scrolling the list to the top", func() string {
		p.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			// input.DispatchMouseEventParams leaves out a deltaX of 0, which
			// Chromium requires for a wheel.
			return t.Call(ctx, input.DispatchMouseEvent.Method, map[string]any{
				"type": input.DispatchMouseEventTypeMouseWheel, "x": box["x"], "y": box["y"], "deltaX": 0, "deltaY": -2000,
			}, nil)
		}))
		if top := evaluate[float64](p, `document.querySelector("#scroller").scrollTop`); top != 0 {
			return fmt.Sprintf("scrollTop is %v", top)
		}
		return ""
	})
	// Scroll events are dispatched with the next frames.
	evaluateAsync[bool](p, `new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => done(true))))`)
}

func (p *browserPerson) connectionShown() bool {
	p.t.Helper()
	return evaluate[bool](p, `(c => !c.hidden && c.getClientRects().length > 0)(document.querySelector("#connection"))`)
}

func (p *browserPerson) connectionHTML() string {
	p.t.Helper()
	return evaluate[string](p, `document.querySelector("#connection").outerHTML`)
}

// expectNamedControls checks that every form control on the page has an
// accessible name (from a label, aria-label, aria-labelledby or its text),
// and that the controls in want have those names. A key is the tag and, if
// the control has one, its #id.
func (p *browserPerson) expectNamedControls(want map[string]string) {
	p.t.Helper()
	type control struct {
		Element string `json:"element"`
		Name    string `json:"name"`
	}
	controls := evaluate[[]control](p, `Array.from(document.querySelectorAll("input:not([type=hidden]), textarea, select, button"), e => {
		const text = n => (n ? n.textContent : "").replace(/\s+/g, " ").trim();
		const name = (e.getAttribute("aria-label") || "").trim()
			|| (e.getAttribute("aria-labelledby") || "").split(/\s+/).map(id => text(document.getElementById(id))).join(" ").trim()
			|| Array.from(e.labels || [], text).join(" ").trim()
			|| (e.tagName === "BUTTON" ? text(e) : "");
		return {element: e.tagName.toLowerCase() + (e.id ? "#" + e.id : ""), name};
	})`)
	named := map[string][]string{}
	for _, c := range controls {
		if c.Name == "" {
			p.t.Errorf("%s's page: %s has no accessible name", p.name, c.Element)
		}
		named[c.Element] = append(named[c.Element], c.Name)
	}
	for element, name := range want {
		if !slices.Contains(named[element], name) {
			p.t.Errorf("%s's page has no %s named %q; its controls are %+v", p.name, element, name, controls)
		}
	}
}

// expectNoConsoleErrors fails on any error or uncaught exception that p's
// page logged since the last check, CSP violations included. A marker logged
// last, and seen, shows that everything logged before it has arrived.
//
// The browser's own request for the page's icon is the exception: it is made
// at no fixed time after the page loads, so an error for it could fall on
// either side of a marker. Instead the icon is fetched here, and must load.
func (p *browserPerson) expectNoConsoleErrors(page string) {
	p.t.Helper()
	icon := evaluateAsync[shownIcon](p, `(async () => {
		const link = document.querySelector('link[rel~="icon"]');
		const url = link ? link.href : new URL("/favicon.ico", location.href).href;
		if (url.startsWith("data:")) return {url, status: 200};
		return {url, status: (await fetch(url)).status};
	})()`)
	if icon.Status != http.StatusOK {
		p.t.Errorf("%s: the browser asks for the icon %s, which answers %d: a console error on every visit (name one with <link rel=\"icon\">, or serve it)", page, icon.URL, icon.Status)
	}

	marker := fmt.Sprintf("chatzilla test: %s checked at %d", page, time.Now().UnixNano())
	evaluate[bool](p, fmt.Sprintf("console.info(%q) === undefined", marker))
	p.waitUntil(liveDeadline, "the console to catch up", func() string {
		if !strings.Contains(p.console.String(), marker) {
			return "the marker has not arrived"
		}
		return ""
	})
	logged := p.console.String()
	logged = logged[:strings.Index(logged, marker)]
	if i := strings.LastIndex(logged, "chatzilla test: "); i >= 0 {
		logged = logged[i:] // since the previous check
	}
	for line := range strings.Lines(logged) {
		isError := strings.HasPrefix(line, string(chromedp.ConsoleError)+":") || strings.HasPrefix(line, string(chromedp.ConsoleException)+":")
		if isError && !strings.Contains(line, icon.URL) {
			p.t.Errorf("%s: console: %s", page, strings.TrimSpace(line))
		}
	}
}

// shownIcon is where the page's icon is and how its request was answered.
type shownIcon struct {
	URL    string `json:"url"`
	Status int    `json:"status"`
}

// evaluateAsync is evaluate for an expression whose value is a promise: it
// waits for the promise and decodes what it resolves to.
func evaluateAsync[T any](p *browserPerson, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("in %s's page, %s: %v", p.name, expr, err)
	}
	return v
}
