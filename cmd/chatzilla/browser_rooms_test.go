package main

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/chatzilla/chatzilla/mail/mailtest"
)

// Rooms, direct messages and unread counts (issue 16), as people use them:
// making and joining a room, chatting in it, the sidebar's counts while
// reading another room, the "New since your last visit" line, a direct
// message between two verified people that a third cannot open, and all of
// it through plain forms without JavaScript.

const (
	// sidebarTick is how often a stream sends the sidebar's changed counts
	// (stream/unread.go); waiting two of them shows that no late update
	// comes.
	sidebarTick = 500 * time.Millisecond
	// sidebarTickSlack is how long a count may take to arrive.
	sidebarTickSlack = 3 * time.Second
)

func TestBrowserRooms(t *testing.T) {
	chromium := requireChromium(t)
	app := startChatzilla(t, map[string]string{"SIGN_IN": "open"})
	browser := startBrowser(t, chromium)
	ann := browser.open(t, "Ann", javaScriptOn)
	bob := browser.open(t, "Bob", javaScriptOn)
	ann.join(app.URL, "ann@example.com")
	bob.join(app.URL, "bob@example.com")

	// Without verified addresses there are no private rooms or direct
	// messages to offer.
	if evaluate[bool](ann, `document.querySelector("#dm-email, #room-kind, form.dm") !== null`) {
		t.Errorf("with SIGN_IN=open Ann is offered private rooms or direct messages:\n%s", ann.sidebarHTML())
	}

	// Ann makes an open room from the sidebar.
	const room, roomName = "/rooms/design-review", "Design Review"
	ann.do(chromedp.SendKeys(chromedp.CSS("#room-name"), roomName))
	ann.submit(`form.new-room button[type="submit"]`)
	ann.expectInRoom(room, roomName)
	if got := evaluate[string](ann, `(a => a ? a.getAttribute("href") : "none")(document.querySelector('#rooms a.room-link[aria-current="page"]'))`); got != room {
		t.Errorf("Ann's sidebar marks %q as the room she is in, want %s:\n%s", got, room, ann.sidebarHTML())
	}

	// Bob finds it under Browse rooms, reads it without being in it, and
	// joins.
	bob.do(chromedp.Navigate(app.URL + "/"))
	if got := bob.myRooms(); slices.Contains(got, room) {
		t.Fatalf("Bob has the room among his own before joining it: %q", got)
	}
	bob.submit(fmt.Sprintf(`#rooms ul.browse a.room-link[href=%q]`, room))
	bob.expectInRoom(room, roomName)
	if !evaluate[bool](bob, `document.querySelector("#composer") === null && document.querySelector("form.join-room") !== null`) {
		t.Fatalf("Bob, not in the room, is not offered Join this room instead of the composer:\n%s", evaluate[string](bob, `document.querySelector(".conversation").outerHTML`))
	}
	bob.submit(`form.join-room button[type="submit"]`)
	bob.expectInRoom(room, roomName)
	if evaluate[bool](bob, `document.querySelector("#composer") === null`) {
		t.Fatal("Bob joined the room and has no composer")
	}
	if got := bob.myRooms(); !slices.Equal(got, []string{"/", room}) {
		t.Errorf("after joining, Bob's rooms are %q, want general and %s", got, room)
	}

	// They chat there, live.
	ann.do(chromedp.Navigate(app.URL + room))
	ann.keepPageOpen()
	bob.keepPageOpen()
	hello := "ann@example.com: Welcome to the design review"
	sent := ann.send("Welcome to the design review")
	bob.waitForLiveMessage(hello, sent)
	ann.waitForLiveMessage(hello, sent)
	reply := "bob@example.com: Glad to be here"
	sent = bob.send("Glad to be here")
	ann.waitForLiveMessage(reply, sent)
	bob.waitForLiveMessage(reply, sent)
	bob.waitForEmptyFocusedComposer(sent)
	ann.expectMessages(hello, reply)
	bob.expectMessages(hello, reply)

	// Bob goes to general, where the room's badge is empty: he has read it.
	streams := countLog(app, `msg="stream connected"`, "sender=bob@example.com")
	bob.submit(`#rooms a.room-link[href="/"]`)
	bob.keepPageOpen()
	waitForMoreLog(t, app, streams, `msg="stream connected"`, "sender=bob@example.com")
	if got := bob.badge(room); got != "" {
		t.Errorf("in general, Bob's badge for the room he has read shows %q, want it empty", got)
	}
	if got := evaluate[string](bob, `document.title`); got != "Chatzilla" {
		t.Errorf("in general with nothing unread, Bob's title is %q, want Chatzilla", got)
	}

	// Ann posts twice in the room: Bob's badge counts them live, and his
	// title and the rooms button count them too.
	first := "ann@example.com: First thing while you are away"
	sent = ann.send("First thing while you are away")
	ann.waitForLiveMessage(first, sent)
	ann.waitForEmptyFocusedComposer(sent)
	second := "ann@example.com: Second thing while you are away"
	sent = ann.send("Second thing while you are away")
	ann.waitForLiveMessage(second, sent)
	took := bob.waitUntil(sidebarTickSlack, "the room's badge counts Ann's 2 messages", func() string {
		if got := bob.badge(room); got != "2" {
			return fmt.Sprintf("the badge shows %q; the sidebar is:\n%s", got, bob.sidebarHTML())
		}
		if got := evaluate[string](bob, `document.title`); !strings.HasPrefix(got, "(2) ") {
			return fmt.Sprintf("the title is %q, want it to start with (2)", got)
		}
		if got := evaluate[string](bob, `document.querySelector("#unread-total").textContent.trim()`); got != "2" {
			return fmt.Sprintf("the rooms button counts %q, want 2", got)
		}
		return ""
	})
	t.Logf("Bob's badge showed 2 %v after Ann's second message", took.Round(time.Millisecond))
	if !evaluate[bool](bob, `window.chatzillaPageKeptOpen === true`) {
		t.Fatal("Bob's page was reloaded: the count should have come live")
	}
	if got := bob.messages(); len(got) != 0 {
		t.Errorf("Bob's general shows messages of the room: %+v", got)
	}
	bob.saveScreenshot("rooms-unread.png")

	// On a phone the rooms are behind the button in the header, which
	// counts the unread messages.
	bob.show(screen{name: "phone", width: 360, height: 740, phone: true})
	bob.do(chromedp.Click(chromedp.CSS(".rooms-toggle")))
	bob.waitUntil(liveDeadline, "the rooms menu opens", func() string {
		if !evaluate[bool](bob, `document.querySelector("#rooms-popover").matches(":popover-open")`) {
			return "it is closed"
		}
		return ""
	})
	if w := evaluate[int](bob, `document.documentElement.scrollWidth`); w > 360 {
		t.Errorf("Bob's page is %d px wide on a 360 px phone; the widest elements are %q", w, evaluate[[]string](bob, widestElements))
	}
	bob.saveScreenshot("rooms-phone-menu.png")

	// Bob opens the room from the menu: the line stands right above Ann's
	// first unread message.
	bob.submit(fmt.Sprintf(`#rooms a.room-link[href=%q]`, room))
	bob.show(screen{name: "desktop", width: viewportWidth, height: viewportHeight})
	bob.expectInRoom(room, roomName)
	type around struct {
		Line   string `json:"line"`
		Before string `json:"before"`
		After  string `json:"after"`
		Lines  int    `json:"lines"`
	}
	text := `(li => { if (!li) return ""; const c = li.cloneNode(true); c.querySelectorAll("time").forEach(t => t.remove()); return c.textContent; })`
	got := evaluate[around](bob, `(line => ({
		line: line ? line.textContent.trim() : "",
		before: `+text+`(line && line.previousElementSibling),
		after: `+text+`(line && line.nextElementSibling),
		lines: document.querySelectorAll("#messages > li.new-since").length,
	}))(document.querySelector("#messages > li#new-since"))`)
	if want := (around{Line: "New since your last visit", Before: reply, After: first, Lines: 1}); got != want {
		t.Errorf("Bob opens the room and sees the line %+v, want %+v; #messages is:\n%s", got, want, bob.messagesHTML())
	}
	bob.expectMessages(hello, reply, first, second)
	bob.saveScreenshot("rooms-new-since.png")

	// Read now: the badge is empty, in the room and back in general, and
	// stays so; a reload of the room shows no line.
	if got := bob.badge(room); got != "" {
		t.Errorf("in the room, Bob's badge for it shows %q, want it empty", got)
	}
	bob.submit(`#rooms a.room-link[href="/"]`)
	bob.keepPageOpen()
	bob.staysFor(2*sidebarTick, "the room's badge stays empty in general", func() string {
		if got := bob.badge(room); got != "" {
			return fmt.Sprintf("it shows %q", got)
		}
		if got := evaluate[string](bob, `document.title`); got != "Chatzilla" {
			return fmt.Sprintf("the title is %q, want Chatzilla", got)
		}
		return ""
	})
	bob.do(chromedp.Navigate(app.URL + room))
	if evaluate[bool](bob, `document.querySelector("#new-since") !== null`) {
		t.Errorf("Bob reloads the room he has read and still sees New since your last visit:\n%s", bob.messagesHTML())
	}

	ann.show(screen{name: "desktop, dark", width: 1280, height: 800, dark: true})
	ann.saveScreenshot("rooms-dark.png")
	ann.expectNoConsoleErrors("Ann's room")
	bob.expectNoConsoleErrors("Bob's room")
}

// A message the page showed counts as read even when the reader moves on
// at once: the page reports what it shows at most every 2 s, and leaving
// within that time must not lose the last report.
func TestBrowserRoomReadWhenLeavingAtOnce(t *testing.T) {
	chromium := requireChromium(t)
	app := startChatzilla(t, map[string]string{"SIGN_IN": "open"})
	browser := startBrowser(t, chromium)
	ann := browser.open(t, "Ann", javaScriptOn)
	bob := browser.open(t, "Bob", javaScriptOn)
	ann.join(app.URL, "ann@example.com")
	bob.join(app.URL, "bob@example.com")
	const room = "/rooms/standup"
	ann.do(chromedp.SendKeys(chromedp.CSS("#room-name"), "Standup"))
	ann.submit(`form.new-room button[type="submit"]`)
	bob.do(chromedp.Navigate(app.URL + room))
	bob.submit(`form.join-room button[type="submit"]`)
	bob.expectInRoom(room, "Standup")
	ann.keepPageOpen()
	bob.keepPageOpen()

	// Two messages in quick succession, both shown on Bob's page, which
	// he leaves as soon as he has seen the second.
	for _, text := range []string{"Yesterday: the sidebar", "Today: the tests"} {
		sent := ann.send(text)
		bob.waitForLiveMessage("ann@example.com: "+text, sent)
		ann.waitForEmptyFocusedComposer(sent)
	}
	bob.submit(`#rooms a.room-link[href="/"]`)
	bob.staysFor(2*sidebarTick, "Bob's badge for the room he read stays empty", func() string {
		if got := bob.badge(room); got != "" {
			return fmt.Sprintf("it shows %q: a message his page showed counts as unread", got)
		}
		return ""
	})
}

func TestBrowserDirectMessages(t *testing.T) {
	chromium := requireChromium(t)
	smtp := mailtest.NewServer(t)
	const public = "https://chat.example.test"
	app := startChatzilla(t, map[string]string{"SIGN_IN": "email", "SMTP_URL": smtp.URL(), "PUBLIC_URL": public})
	browser := startBrowser(t, chromium)
	ann := browser.open(t, "Ann", javaScriptOn)
	bob := browser.open(t, "Bob", javaScriptOn)
	eve := browser.open(t, "Eve", javaScriptOn)
	signIn := func(p *browserPerson, email string) {
		t.Helper()
		p.do(chromedp.Navigate(app.URL+"/"), chromedp.SendKeys(chromedp.CSS("#email"), email))
		p.submit(`form[action="/join"] button[type="submit"]`)
		m := smtp.WaitFor(t, email, 10*time.Second)
		link := regexp.MustCompile(regexp.QuoteMeta(public) + `/sign-in\?token=[A-Za-z0-9]+`).FindString(m.Body)
		if link == "" {
			t.Fatalf("the mail to %s has no link to %s:\n%s", email, public, m.Body)
		}
		p.do(chromedp.Navigate(app.URL + strings.TrimPrefix(link, public)))
		p.submit(`form[action="/sign-in"] button[type="submit"]`)
		if !evaluate[bool](p, `document.querySelector("#composer") !== null`) {
			t.Fatalf("%s pressed Sign in and sees no chat:\n%s", p.name, evaluate[string](p, `document.body.innerText`))
		}
	}
	signIn(ann, "ann@example.com")
	signIn(bob, "bob@example.com")
	signIn(eve, "eve@example.com")
	bob.keepPageOpen()
	waitForMoreLog(t, app, 0, `msg="stream connected"`, "sender=bob@example.com")

	// Ann starts a conversation with Bob by his address.
	ann.do(chromedp.SendKeys(chromedp.CSS("#dm-email"), "bob@example.com"))
	ann.submit(`form.dm-form button[type="submit"]`)
	dm := evaluate[string](ann, `location.pathname`)
	if !strings.HasPrefix(dm, "/rooms/") || dm == "/rooms/" {
		t.Fatalf("Ann's Message someone ended at %s, want a room", dm)
	}
	ann.expectInRoom(dm, "bob@example.com")
	ann.keepPageOpen()
	secret := "ann@example.com: Just between us: the launch moves to Friday"
	sent := ann.send("Just between us: the launch moves to Friday")
	ann.waitForLiveMessage(secret, sent)
	ann.saveScreenshot("dm-ann.png")

	// Bob's page, open all along, lists the new conversation, with Ann's
	// message counted, without a reload.
	bob.waitUntil(5*time.Second, "the new conversation in Bob's open page", func() string {
		if !slices.Contains(bob.myRooms(), dm) || bob.badge(dm) != "1" {
			return fmt.Sprintf("rooms %v, badge %q", bob.myRooms(), bob.badge(dm))
		}
		return ""
	})

	// Bob loads the chat: the conversation is in his sidebar, named after
	// Ann, with her message counted; he opens it and replies.
	bob.do(chromedp.Navigate(app.URL + "/"))
	if got := bob.badge(dm); got != "1" {
		t.Errorf("Bob's sidebar counts %q unread in the conversation with Ann, want 1:\n%s", got, bob.sidebarHTML())
	}
	if got := evaluate[string](bob, fmt.Sprintf(`(a => a ? a.querySelector(".room-name").textContent.trim() : "")(document.querySelector('#rooms a.room-link[href=%q]'))`, dm)); got != "ann@example.com" {
		t.Errorf("Bob's sidebar names the conversation %q, want ann@example.com", got)
	}
	bob.submit(fmt.Sprintf(`#rooms a.room-link[href=%q]`, dm))
	bob.expectInRoom(dm, "ann@example.com")
	bob.expectMessages(secret)
	bob.keepPageOpen()
	answer := "bob@example.com: Got it, Friday it is"
	sent = bob.send("Got it, Friday it is")
	ann.waitForLiveMessage(answer, sent)
	bob.waitForLiveMessage(answer, sent)
	ann.expectMessages(secret, answer)

	// Eve, signed in too, cannot open it: 404, as if it did not exist.
	resp, err := chromedp.Run(eve.ctx, chromedp.NavigateResponse(app.URL+dm))
	if err != nil {
		t.Fatalf("Eve opens %s: %v", dm, err)
	}
	if resp.Status != http.StatusNotFound {
		t.Errorf("Eve opens the conversation of Ann and Bob and gets %d, want 404", resp.Status)
	}
	body := evaluate[string](eve, `document.body.innerText`)
	if strings.Contains(body, "launch") || strings.Contains(body, "Friday") {
		t.Errorf("Eve's page for the conversation shows its messages:\n%s", body)
	}
	eve.saveScreenshot("dm-eve-404.png")
	if got := eve.get(app.URL, dm+"/events?after=0"); got.status != http.StatusNotFound || strings.Contains(got.body, "launch") {
		t.Errorf("Eve's GET %s/events: %d %q, want 404 without the messages", dm, got.status, got.body)
	}
	eve.do(chromedp.Navigate(app.URL + "/"))
	if slices.Contains(eve.myRooms(), dm) || strings.Contains(eve.sidebarHTML(), dm) {
		t.Errorf("Eve's sidebar shows the conversation:\n%s", eve.sidebarHTML())
	}
	// Nor can she write in it or join it, from her page.
	for _, action := range []string{"/messages", "/join"} {
		status := evaluateAsync[int](eve, fmt.Sprintf(`fetch(%q, {method: "POST", body: new URLSearchParams({message: "Eve was here"})}).then(r => r.status)`, dm+action))
		if status != http.StatusNotFound {
			t.Errorf("Eve's POST %s%s: %d, want 404", dm, action, status)
		}
	}
	ann.do(chromedp.Reload())
	ann.expectMessages(secret, answer)

	bob.show(screen{name: "desktop, dark", width: 1280, height: 800, dark: true})
	bob.saveScreenshot("dm-bob-dark.png")
	ann.expectNoConsoleErrors("Ann's conversation")
	bob.expectNoConsoleErrors("Bob's conversation")
}

func TestBrowserRoomWithoutJavaScript(t *testing.T) {
	chromium := requireChromium(t)
	app := startChatzilla(t, map[string]string{"SIGN_IN": "open"})
	alice := join(t, app.URL, "alice@example.com")
	browser := startBrowser(t, chromium)
	carol := browser.open(t, "Carol", javaScriptOff)
	carol.join(app.URL, "carol@example.com")
	if evaluate[bool](carol, `typeof window.htmx !== "undefined"`) {
		t.Fatal("Carol's page ran htmx: JavaScript is not off, so this test proves nothing")
	}

	// A room, made with the sidebar's plain form.
	const room, roomName = "/rooms/plain-forms", "Plain Forms"
	carol.do(chromedp.SendKeys(chromedp.CSS("#room-name"), roomName))
	carol.submit(`form.new-room button[type="submit"]`)
	carol.expectInRoom(room, roomName)
	if got := carol.myRooms(); !slices.Equal(got, []string{"/", room}) {
		t.Errorf("after making the room, Carol's rooms are %q, want general and %s", got, room)
	}

	// A message posted with the plain composer: the post is answered with
	// the room's page again, which shows it.
	if got := evaluate[string](carol, `document.querySelector("#composer").getAttribute("action")`); got != room+"/messages" {
		t.Errorf("Carol's composer posts to %s, want %s/messages", got, room)
	}
	carol.sendWithPlainForm(`no <script> needed & "rooms" work`)
	carol.expectInRoom(room, roomName)
	carol.expectMessages(`carol@example.com: no <script> needed & "rooms" work`)
	if v := carol.composerText(); v != "" {
		t.Errorf("after posting, Carol's composer holds %q, want it empty", v)
	}

	// Alice posts in general; Carol's next load of the room counts it.
	if got := carol.badge("/"); got != "" {
		t.Errorf("before anyone posts in general, Carol's badge for it shows %q", got)
	}
	alice.say("Anyone in general?")
	carol.do(chromedp.Reload())
	if got := carol.badge("/"); got != "1" {
		t.Errorf("after Alice posted in general and Carol reloaded, her badge for general shows %q, want 1:\n%s", got, carol.sidebarHTML())
	}
	if got := evaluate[string](carol, `document.title`); got != "(1) Plain Forms – Chatzilla" {
		t.Errorf("Carol's title is %q, want (1) Plain Forms – Chatzilla", got)
	}
	carol.expectMessages(`carol@example.com: no <script> needed & "rooms" work`)
	carol.saveScreenshot("rooms-nojs.png")

	// She leaves the room: back in general, the room is no longer hers
	// but can be found under Browse rooms.
	carol.submit(`form.leave-room button[type="submit"]`)
	if got := evaluate[string](carol, `location.pathname`); got != "/" {
		t.Errorf("Leave room ended at %s, want /", got)
	}
	carol.expectMessages("alice@example.com: Anyone in general?")
	if got := carol.myRooms(); !slices.Equal(got, []string{"/"}) {
		t.Errorf("after leaving, Carol's rooms are %q, want general alone", got)
	}
	if !evaluate[bool](carol, fmt.Sprintf(`document.querySelector('#rooms ul.browse a.room-link[href=%q]') !== null`, room)) {
		t.Errorf("the room Carol left is not under Browse rooms:\n%s", carol.sidebarHTML())
	}
	carol.do(chromedp.Navigate(app.URL + room))
	if !evaluate[bool](carol, `document.querySelector("#composer") === null && document.querySelector("form.join-room") !== null`) {
		t.Errorf("Carol, out of the room, is not offered Join this room instead of the composer")
	}
	carol.expectMessages(`carol@example.com: no <script> needed & "rooms" work`)
}

// Helpers for the rooms' tests.

// expectInRoom checks that p's page is the room at path, named name.
func (p *browserPerson) expectInRoom(path, name string) {
	p.t.Helper()
	type where struct {
		Path string `json:"path"`
		Name string `json:"name"`
	}
	got := evaluate[where](p, `({path: location.pathname, name: (h => h ? h.textContent.trim() : "")(document.querySelector("#room-title .room-name"))})`)
	if got != (where{path, name}) {
		p.t.Fatalf("%s is at %s in the room named %q, want %s named %q; the page says:\n%s", p.name, got.Path, got.Name, path, name, evaluate[string](p, `document.body.innerText`))
	}
}

// myRooms are the links of p's own rooms in the sidebar (not those to
// browse), in order.
func (p *browserPerson) myRooms() []string {
	p.t.Helper()
	return evaluate[[]string](p, `Array.from(document.querySelectorAll("#rooms ul.room-list:not(.browse) a.room-link"), a => a.getAttribute("href"))`)
}

// badge is the unread count p's sidebar shows for the room at href.
func (p *browserPerson) badge(href string) string {
	p.t.Helper()
	return evaluate[string](p, fmt.Sprintf(`(a => a ? (b => b ? b.textContent.trim() : "(no badge)")(a.querySelector(".unread")) : "(not in the sidebar)")(document.querySelector('#rooms ul.room-list:not(.browse) a.room-link[href=%q]'))`, href))
}

func (p *browserPerson) sidebarHTML() string {
	p.t.Helper()
	return evaluate[string](p, `(document.querySelector("#rooms") || document.body).outerHTML`)
}

// staysFor checks that check finds nothing wrong with p's page now and for
// the whole of d.
func (p *browserPerson) staysFor(d time.Duration, what string, check func() string) {
	p.t.Helper()
	for start := time.Now(); ; time.Sleep(pollInterval) {
		if wrong := check(); wrong != "" {
			p.t.Fatalf("%s's page, %v after: %s: %s", p.name, time.Since(start).Round(time.Millisecond), what, wrong)
		}
		if time.Since(start) > d {
			return
		}
	}
}

// httpAnswer is a status and body.
type httpAnswer struct {
	status int
	body   string
}

// get asks for path with the cookies of p's browser, outside the browser,
// and reads at most a little of the answer (a stream would not end).
func (p *browserPerson) get(base, path string) httpAnswer {
	p.t.Helper()
	got, err := chromedp.Call(p.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
	if err != nil || len(got.Cookies) == 0 {
		p.t.Fatalf("reading %s's cookies: %v (%d cookies)", p.name, err, len(got.Cookies))
	}
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	for _, c := range got.Cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		p.t.Fatalf("%s's GET %s: %v", p.name, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return httpAnswer{status: resp.StatusCode, body: "(a stream)"}
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return httpAnswer{resp.StatusCode, string(body)}
}

// waitForMoreLog waits until the instance has logged more than before
// lines that hold all of parts.
func waitForMoreLog(t *testing.T, inst *instance, before int, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(liveDeadline)
	for countLog(inst, parts...) <= before {
		if time.Now().After(deadline) {
			t.Fatalf("chatzilla logged no more than %d lines with %q within %v", before, parts, liveDeadline)
		}
		time.Sleep(pollInterval)
	}
}
