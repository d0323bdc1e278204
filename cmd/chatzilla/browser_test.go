package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// These tests drive real Chromium against the whole program, as people use
// it: each person has a browser context of their own (their own cookies, so
// their own session) in one shared browser. The harness below the tests is
// only for them, so it lives here rather than in a file of its own.

const (
	// liveDeadline is how soon a message must show on every open page.
	liveDeadline = 2 * time.Second
	// browserTestTimeout bounds a whole browser test, so that a hang fails
	// the test instead of blocking the run. It allows for a shared machine
	// running every package's tests at once, where a test that takes 20 s
	// alone has been seen to take over 60.
	browserTestTimeout = 2 * time.Minute
	// pollInterval is how often a test looks at a page while it waits.
	pollInterval = 25 * time.Millisecond
	// viewportWidth and viewportHeight are a laptop's window, also the size
	// of the screenshot for the docs.
	viewportWidth, viewportHeight = 1000, 700
)

func TestBrowserTwoPeopleChatLive(t *testing.T) {
	chromium := requireChromium(t)
	app := startChatzilla(t, nil)
	browser := startBrowser(t, chromium)
	alice := browser.open(t, "Alice", javaScriptOn)
	bob := browser.open(t, "Bob", javaScriptOn)

	alice.join(app.URL, "alice@example.com")
	bob.join(app.URL, "bob@example.com")
	alice.keepPageOpen()
	bob.keepPageOpen()

	// The text is full of HTML's special characters: everyone must see it
	// as typed, and no <b> may come of it.
	hello := `alice@example.com: <b>hi</b> & "quotes"`
	sent := alice.send(`<b>hi</b> & "quotes"`)
	bob.waitForLiveMessage(hello, sent)
	alice.waitForLiveMessage(hello, sent)
	alice.waitForEmptyFocusedComposer(sent)

	reply := `bob@example.com: hi Alice <3 it's 'me' & <i>not</i> a tag`
	sent = bob.send(`hi Alice <3 it's 'me' & <i>not</i> a tag`)
	alice.waitForLiveMessage(reply, sent)
	bob.waitForLiveMessage(reply, sent)
	bob.waitForEmptyFocusedComposer(sent)

	later := "alice@example.com: See you at the café at 6!"
	sent = alice.send("See you at the café at 6!")
	bob.waitForLiveMessage(later, sent)
	alice.waitForLiveMessage(later, sent)

	for _, p := range []*browserPerson{alice, bob} {
		p.expectMessages(hello, reply, later)
	}
	bob.saveScreenshot("chat.png")
}

func TestBrowserWorksWithoutJavaScript(t *testing.T) {
	chromium := requireChromium(t)
	app := startChatzilla(t, nil)
	browser := startBrowser(t, chromium)
	alice := browser.open(t, "Alice", javaScriptOn)
	carol := browser.open(t, "Carol", javaScriptOff)

	alice.join(app.URL, "alice@example.com")
	alice.keepPageOpen()
	carol.join(app.URL, "carol@example.com")
	if evaluate[bool](carol, `typeof window.htmx !== "undefined"`) {
		t.Fatal("Carol's page ran htmx: JavaScript is not off, so this test proves nothing")
	}

	want := `carol@example.com: no <script>s here & that's "fine"`
	sent := carol.sendWithPlainForm(`no <script>s here & that's "fine"`)
	carol.expectMessages(want)
	if v := carol.composerText(); v != "" {
		t.Errorf("after posting, Carol's composer holds %q, want it empty", v)
	}
	alice.waitForLiveMessage(want, sent)
	alice.expectMessages(want)
}

type javaScript bool

const (
	javaScriptOn  javaScript = true
	javaScriptOff javaScript = false
)

// testBrowser is one Chromium process, stopped at the end of the test.
type testBrowser struct {
	ctx context.Context // holds the started browser
}

// startBrowser starts headless Chromium at path for the test.
func startBrowser(t *testing.T, path string) *testBrowser {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), browserTestTimeout)
	t.Cleanup(cancel)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // as root in a container there is no sandbox to use
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// A tab in the background must not be slowed down: everyone's page
		// is open at once and must update at once.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(viewportWidth, viewportHeight),
	)
	t.Cleanup(cancelAlloc)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return &testBrowser{ctx: browserCtx}
}

// requireChromium returns where Chromium is, or skips the test where there is
// none (never on CI, which must run these tests).
func requireChromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("CHROMIUM_PATH: %v", err)
		}
		return p
	}
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium at /usr/bin/chromium or /usr/bin/chromium-browser, and CI must run the browser tests: apt-get install chromium, or set CHROMIUM_PATH")
	}
	t.Skip("no Chromium found: apt-get install chromium (or set CHROMIUM_PATH) to run the browser tests")
	return ""
}

// browserPerson is one person at their own browser: own cookies, own tab.
type browserPerson struct {
	t       *testing.T
	name    string
	ctx     context.Context
	console *syncBuffer // the page's console and uncaught errors
}

func (b *testBrowser) open(t *testing.T, name string, js javaScript) *browserPerson {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	p := &browserPerson{t: t, name: name, ctx: ctx, console: &syncBuffer{}}
	messages := chromedp.Console(ctx) // opens the tab
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.URL != "" {
				fmt.Fprintf(p.console, "%s (%s:%d)\n", m, m.URL, m.Line+1)
			} else {
				fmt.Fprintf(p.console, "%s\n", m)
			}
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s's browser console:\n%s", name, cmp.Or(p.console.String(), "(empty)"))
		}
	})
	p.do(chromedp.EmulateViewport(viewportWidth, viewportHeight))
	if js == javaScriptOff {
		_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		if err != nil {
			t.Fatalf("turning off JavaScript for %s: %v", name, err)
		}
	}
	return p
}

func (p *browserPerson) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.t.Fatalf("%s's browser: %v", p.name, err)
	}
}

// submit clicks a form's submit button and waits for the page it leads to.
func (p *browserPerson) submit(button string) {
	p.t.Helper()
	_, err := chromedp.Run(p.ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(button))))
	if err != nil {
		p.t.Fatalf("%s clicks %s and waits for the next page: %v", p.name, button, err)
	}
}

// join opens the app and joins through the form, as a first visit does.
func (p *browserPerson) join(baseURL, email string) {
	p.t.Helper()
	p.do(
		chromedp.Navigate(baseURL+"/"),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
	)
	p.submit(`form[action="/join"] button[type="submit"]`)
	if !evaluate[bool](p, `document.querySelector("#messages") !== null && document.querySelector("#composer") !== null`) {
		p.t.Fatalf("%s joined as %s but sees no chat; the page is:\n%s", p.name, email, evaluate[string](p, `document.body.outerHTML`))
	}
}

// keepPageOpen notes the page, so that a later check can tell that what it
// shows came live rather than from a reload. It also fails at once when the
// page has no htmx, which would make every live check time out.
func (p *browserPerson) keepPageOpen() {
	p.t.Helper()
	if !evaluate[bool](p, `typeof window.htmx !== "undefined"`) {
		p.t.Fatalf("%s's page has no htmx (is it built in? run `make assets`); the head is:\n%s", p.name, evaluate[string](p, `document.head.outerHTML`))
	}
	evaluate[bool](p, `window.chatzillaPageKeptOpen = true`)
}

// send types text into the composer and clicks Send, which htmx posts in the
// background. It returns when the click was made.
func (p *browserPerson) send(text string) time.Time {
	p.t.Helper()
	p.do(chromedp.SendKeys(chromedp.CSS("#message"), text))
	sent := time.Now()
	p.do(chromedp.Click(chromedp.CSS(`#composer button[type="submit"]`)))
	return sent
}

// sendWithPlainForm is send for a page without JavaScript: the click posts
// the form and the browser follows the redirect to a fresh page.
func (p *browserPerson) sendWithPlainForm(text string) time.Time {
	p.t.Helper()
	p.do(chromedp.SendKeys(chromedp.CSS("#message"), text))
	sent := time.Now()
	p.submit(`#composer button[type="submit"]`)
	return sent
}

// shownMessage is one item of the page's message list.
type shownMessage struct {
	Text     string `json:"text"`     // what a reader sees
	Elements int    `json:"elements"` // elements inside the item
	HTML     string `json:"html"`
}

func (p *browserPerson) messages() []shownMessage {
	p.t.Helper()
	// A message as a person reads it: its text without the time, and the
	// elements in it other than the time and the <bdi>s that isolate the
	// sender and the text.
	return evaluate[[]shownMessage](p, `Array.from(document.querySelectorAll("#messages > li[id^='m-']"), li => {
		const c = li.cloneNode(true);
		c.querySelectorAll("time").forEach(t => t.remove());
		return {text: c.textContent, elements: c.querySelectorAll("*:not(bdi)").length, html: li.outerHTML};
	})`)
}

func (p *browserPerson) messagesHTML() string {
	return evaluate[string](p, `(document.querySelector("#messages") || document.body).outerHTML`)
}

// waitForLiveMessage waits until want shows in the list exactly once, at
// most liveDeadline after it was sent, on the page kept open.
func (p *browserPerson) waitForLiveMessage(want string, sent time.Time) {
	p.t.Helper()
	for {
		var found []shownMessage
		for _, m := range p.messages() {
			if m.Text == want {
				found = append(found, m)
			}
		}
		if len(found) > 0 {
			if !evaluate[bool](p, `window.chatzillaPageKeptOpen === true`) {
				p.t.Fatalf("%s's page was reloaded; the message should have come live", p.name)
			}
			if len(found) > 1 {
				p.t.Fatalf("%s sees %q %d times, want once; #messages is:\n%s", p.name, want, len(found), p.messagesHTML())
			}
			// Every message here is one line, so its item holds one
			// element: the sender's <b>. More means the text became HTML.
			if found[0].Elements != 1 {
				p.t.Fatalf("%s sees %q with %d elements in it, want only the sender's <b>: %s", p.name, want, found[0].Elements, found[0].HTML)
			}
			p.t.Logf("%s sees %q %v after it was sent", p.name, want, time.Since(sent).Round(time.Millisecond))
			return
		}
		if time.Since(sent) > liveDeadline {
			p.t.Fatalf("%s does not see %q within %v of sending, without reloading; #messages is:\n%s", p.name, want, liveDeadline, p.messagesHTML())
		}
		time.Sleep(pollInterval)
	}
}

// expectMessages checks the whole list, in order.
func (p *browserPerson) expectMessages(want ...string) {
	p.t.Helper()
	var got []string
	for _, m := range p.messages() {
		got = append(got, m.Text)
	}
	if !slices.Equal(got, want) {
		p.t.Errorf("%s sees messages\n\t%q\nwant\n\t%q\n#messages is:\n%s", p.name, got, want, p.messagesHTML())
	}
}

// waitForEmptyFocusedComposer waits for the composer that htmx swaps in after
// a send: empty, with the cursor in it for the next message.
func (p *browserPerson) waitForEmptyFocusedComposer(sent time.Time) {
	p.t.Helper()
	for {
		text := p.composerText()
		focused := evaluate[string](p, `(e => e ? e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") : "nothing")(document.activeElement)`)
		if text == "" && focused == "textarea#message" {
			return
		}
		if time.Since(sent) > liveDeadline {
			p.t.Fatalf("%v after sending, %s's composer holds %q and the focus is on %s; want it empty and focused; the form is:\n%s",
				liveDeadline, p.name, text, focused, evaluate[string](p, `(document.querySelector("#composer") || document.body).outerHTML`))
		}
		time.Sleep(pollInterval)
	}
}

func (p *browserPerson) composerText() string {
	p.t.Helper()
	return evaluate[string](p, `document.querySelector("#message").value`)
}

// saveScreenshot saves the page as a PNG in the directory that
// CHATZILLA_SCREENSHOTS names (relative to the repository root), for the
// docs. Without it, nothing is written.
func (p *browserPerson) saveScreenshot(name string) {
	p.t.Helper()
	dir := os.Getenv("CHATZILLA_SCREENSHOTS")
	if dir == "" {
		return
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join("..", "..", dir) // tests run in cmd/chatzilla
	}
	png, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("screenshot of %s's page: %v", p.name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("saved %s's page as %s", p.name, path)
}

// evaluate runs a JavaScript expression in p's page and decodes its value.
func evaluate[T any](p *browserPerson, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("in %s's page, %s: %v", p.name, expr, err)
	}
	return v
}
