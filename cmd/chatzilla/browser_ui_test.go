package main

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The chat page as people use it, beyond sending and reading: who is online,
// the keyboard, scrolling, reconnecting after a restart, older messages, the
// page on a laptop and on a phone, and accessibility: one test per acceptance
// criterion of the chat UI issue. It drives the harness of
// browser_harness_test.go.

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

	// What htmx waits before each reconnect: the server's retry field at
	// shutdown sets it.
	evaluate[bool](alice, `window.reconnectDelays = [];
		document.getElementById("messages").addEventListener("htmx:sse:before:connection",
			(e) => window.reconnectDelays.push(e.detail.connection.config.reconnectDelay));
		true`)
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
	// The first wait was the server's (100 ms and a spread of 0.1 ms for
	// her one stream); back, the page waits htmx's default again, not a
	// doubling of the server's.
	if got := evaluate[[]float64](alice, `window.reconnectDelays`); len(got) == 0 || got[0] < 100 || got[0] > 101 {
		t.Errorf("the page's waits before reconnecting were %v ms, want the server's 100-101 first", got)
	}
	if got := evaluate[float64](alice, `document.getElementById("messages")._htmx.sse.config.reconnectDelay`); got != 500 {
		t.Errorf("once reconnected, the page would wait %v ms before its next reconnect, want htmx's 500", got)
	}
	alice.waitForMessage("bob@example.com: while you were away", time.Now())

	reconnected := time.Now()

	sent = time.Now()
	join(t, second.URL, "carol@example.com").say("after the restart")
	alice.waitForLiveMessage("carol@example.com: after the restart", sent)
	alice.expectMessages("bob@example.com: before the restart", "bob@example.com: while you were away", "carol@example.com: after the restart")

	// The first instance handed over who was online: Alice coming back is
	// not announced as her joining again, and she is still listed. (Give
	// the roster a few of its ticks to announce her if it would.)
	time.Sleep(time.Until(reconnected.Add(time.Second)))
	got := alice.notices()
	joins := 0
	for _, n := range got {
		if n == "alice@example.com joined" {
			joins++
		}
	}
	if joins != 1 {
		t.Errorf("Alice's reconnect after the restart was announced as her joining again: %q", got)
	}
	if online := alice.online(); !slices.Contains(online.People, "alice@example.com") {
		t.Errorf("after the restart Alice's page does not list her as online: %+v", online)
	}
}

// A page whose first stream request fails (it loaded as the server
// restarted) says it is reconnecting, tries again, and goes live.
func TestBrowserFirstStreamRequestFails(t *testing.T) {
	chromium := requireChromium(t)
	app := startChatzilla(t, nil)
	browser := startBrowser(t, chromium)
	alice := browser.open(t, "Alice", javaScriptOn)
	alice.refuseRequests("*/events*", 2)
	alice.join(app.URL, "alice@example.com")
	alice.keepPageOpen()
	alice.waitUntil(5*time.Second, "Reconnecting… shows while the stream cannot open", func() string {
		if !alice.connectionShown() {
			return "it is not shown: " + alice.connectionHTML()
		}
		return ""
	})
	back := alice.waitUntil(reconnectDeadline, "the stream opens on a later try", func() string {
		if alice.connectionShown() {
			return "Reconnecting… is still shown: " + alice.connectionHTML()
		}
		if n := countLog(app, `msg="stream connected"`, "sender=alice@example.com"); n != 1 {
			return fmt.Sprintf("%d streams of Alice's connected, want 1", n)
		}
		return ""
	})
	t.Logf("the stream opened %v after two refused tries", back.Round(time.Millisecond))
	sent := time.Now()
	join(t, app.URL, "bob@example.com").say("you are live")
	alice.waitForLiveMessage("bob@example.com: you are live", sent)
}

// A message that follows on from its sender's last one shows no name of
// its own, unless a notice (someone joined) came between: it would read as
// the notice's.
func TestBrowserFollowOnAfterANoticeShowsItsSender(t *testing.T) {
	chromium := requireChromium(t)
	app := startChatzilla(t, nil)
	bob := join(t, app.URL, "bob@example.com")
	bob.say("one")
	bob.say("two") // follows on from one
	browser := startBrowser(t, chromium)
	alice := browser.open(t, "Alice", javaScriptOn)
	alice.join(app.URL, "alice@example.com")
	alice.keepPageOpen()
	alice.waitForNotice(liveDeadline, "alice@example.com joined")
	sent := time.Now()
	bob.say("three") // follows on from two, after the notice
	alice.waitForLiveMessage("bob@example.com: three", sent)
	got := evaluate[[]bool](alice, `Array.from(document.querySelectorAll("#messages > li.msg"),
		li => li.querySelector(":scope > b").getBoundingClientRect().width > 1)`)
	if want := []bool{true, false, true}; !slices.Equal(got, want) {
		t.Errorf("the sender's name shown on one, two, three: %v, want %v; the list is:\n%s", got, want,
			evaluate[string](alice, `document.getElementById("messages").outerHTML`))
	}
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
