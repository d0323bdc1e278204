package main

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The harness of the browser tests (browser_*_test.go, axe_test.go): they
// drive real Chromium against the whole program, as people use it. Each
// person has a browser context of their own (their own cookies, so their own
// session) in one shared browser, and a browserPerson's methods are what
// that person does and sees.

const (
	// viewportWidth and viewportHeight are a laptop's window, also the size
	// of the screenshot for the docs.
	viewportWidth, viewportHeight = 1000, 700
	// liveDeadline is how soon a message must show on every open page.
	liveDeadline = 2 * time.Second
	// browserTestTimeout bounds a whole browser test, so that a hang fails
	// the test instead of blocking the run. It allows for a shared machine
	// running every package's tests at once, where a test that takes 20 s
	// alone has been seen to take over 60.
	browserTestTimeout = 2 * time.Minute
	// pollInterval is how often a test looks at a page while it waits.
	pollInterval = 25 * time.Millisecond
)

const (
	// reconnectDeadline allows for htmx's back-off between attempts: 0.5 s
	// doubling, with jitter, while the server is away.
	reconnectDeadline = 10 * time.Second
	// nearBottom is how close to the end of the list counts as "at the
	// bottom" for a reader, in CSS pixels.
	nearBottom = 50
)

// The browser, and each person at it.

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

// axeScript is axe-core, from npm (package.json pins it; `make test` runs
// npm ci first). It is read at test time and injected into the real page.
var axeScript = filepath.Join("..", "..", "node_modules", "axe-core", "axe.min.js")

// requireAxe returns axe-core's source, or skips the test where it is not
// installed (never on CI, which must run it).
func requireAxe(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(axeScript)
	if err == nil {
		return string(b)
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("axe-core is not installed (%v): run npm ci", err)
	}
	t.Skipf("axe-core is not installed (%v): run npm ci (make test does) to run the accessibility audit", err)
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

func (p *browserPerson) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.t.Fatalf("%s's browser: %v", p.name, err)
	}
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

// screen is a window size and colour scheme a page is checked at.
type screen struct {
	name          string
	width, height int64
	phone, dark   bool
}

// show sizes p's window and sets its colour scheme.
func (p *browserPerson) show(s screen) {
	p.t.Helper()
	if s.phone {
		p.do(chromedp.EmulateViewport(s.width, s.height, chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch))
	} else {
		p.do(chromedp.EmulateViewport(s.width, s.height))
	}
	scheme := "light"
	if s.dark {
		scheme = "dark"
	}
	p.prefersColourScheme(scheme)
}

// prefersColourScheme sets the colour scheme p's page sees: light or dark.
func (p *browserPerson) prefersColourScheme(scheme string) {
	p.t.Helper()
	_, err := chromedp.Call(p.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	})
	if err != nil {
		p.t.Fatalf("%s's browser in %s mode: %v", p.name, scheme, err)
	}
}

// pressEnter presses Enter in the focused element as a keyboard does: one
// key down, one key up. chromedp.KeyEvent(kb.Enter) also sends the key's
// character as an event of its own, which can arrive after a send that
// failed at once has swapped in a new composer, and put a line break in it:
// a thing no keyboard does.
func (p *browserPerson) pressEnter() {
	p.t.Helper()
	for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeKeyDown, input.DispatchKeyEventTypeKeyUp} {
		_, err := chromedp.Call(p.ctx, input.DispatchKeyEvent, input.DispatchKeyEventParams{
			Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13,
		})
		if err != nil {
			p.t.Fatalf("%s presses Enter: %v", p.name, err)
		}
	}
}

// setWindowState minimises or restores the window of p's tab.
func (p *browserPerson) setWindowState(state browser.WindowState) {
	p.t.Helper()
	win, err := chromedp.Call(p.ctx, browser.GetWindowForTarget, browser.GetWindowForTargetParams{})
	if err == nil {
		_, err = chromedp.Call(p.ctx, browser.SetWindowBounds, browser.SetWindowBoundsParams{WindowID: win.WindowID, Bounds: &browser.Bounds{WindowState: state}})
	}
	if err != nil {
		p.t.Fatalf("%s's window to %s: %v", p.name, state, err)
	}
}

// delayRequests holds back each request of p's page whose URL matches
// pattern for d, as a slow network does, with the browser's cache off so
// that every page load asks again.
func (p *browserPerson) delayRequests(pattern string, d time.Duration) {
	p.t.Helper()
	if _, err := chromedp.Call(p.ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
		p.t.Fatalf("turning off %s's cache: %v", p.name, err)
	}
	p.intercept(pattern, func(id fetch.RequestID) {
		time.AfterFunc(d, func() { p.continueRequest(id) })
	})
}

// refuseRequests fails the first n requests of p's page whose URL matches
// pattern as a refused connection would (a server restarting), and lets
// the later ones through.
func (p *browserPerson) refuseRequests(pattern string, n int) {
	p.t.Helper()
	p.intercept(pattern, func(id fetch.RequestID) {
		if n > 0 {
			n--
			// An error means the tab is gone, and the request with it.
			_, _ = chromedp.Call(p.ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: id, ErrorReason: network.ErrorReasonConnectionRefused})
			return
		}
		p.continueRequest(id)
	})
}

// intercept pauses each request of p's page whose URL matches pattern and
// hands it to paused, one at a time, until the test ends.
func (p *browserPerson) intercept(pattern string, paused func(fetch.RequestID)) {
	p.t.Helper()
	events := chromedp.Events(p.ctx, fetch.RequestPaused)
	if _, err := chromedp.Call(p.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: pattern}}}); err != nil {
		p.t.Fatalf("intercepting %s's requests: %v", p.name, err)
	}
	go func() {
		for ev, err := range events {
			if err != nil {
				return // the test is over
			}
			paused(ev.RequestID)
		}
	}()
}

// continueRequest lets a paused request go on; an error means the tab is
// gone, and the request with it.
func (p *browserPerson) continueRequest(id fetch.RequestID) {
	_, _ = chromedp.Call(p.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: id})
}

// copyCookiesFrom gives p the cookies that from's browser holds for base, as
// someone who copied them would.
func (p *browserPerson) copyCookiesFrom(from *browserPerson, base string) {
	p.t.Helper()
	got, err := chromedp.Call(from.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
	if err != nil || len(got.Cookies) == 0 {
		p.t.Fatalf("reading %s's cookies: %v (%d cookies)", from.name, err, len(got.Cookies))
	}
	var cookies []*network.CookieParam
	for _, c := range got.Cookies {
		cookies = append(cookies, &network.CookieParam{Name: c.Name, Value: c.Value, URL: base + "/", HTTPOnly: c.HTTPOnly, SameSite: c.SameSite})
	}
	if _, err := chromedp.Call(p.ctx, network.SetCookies, network.SetCookiesParams{Cookies: cookies}); err != nil {
		p.t.Fatalf("giving %s the cookies: %v", p.name, err)
	}
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

// What a person does.

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

// Waiting for the page: every wait has a deadline and fails the test past it.

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

// waitForKeptDraft waits until the composer holds text, has the cursor and
// shows a sentence containing reason ("" for none).
func (p *browserPerson) waitForKeptDraft(text, reason string) {
	p.t.Helper()
	p.waitUntil(liveDeadline, "the text kept, the cursor in the box and "+cmpReason(reason), func() string {
		type composer struct {
			Text     string `json:"text"`
			Focused  bool   `json:"focused"`
			Disabled bool   `json:"disabled"`
			Errors   string `json:"errors"`
		}
		c := evaluate[composer](p, `(box => ({
			text: box ? box.value : "(no box)",
			focused: box !== null && document.activeElement === box,
			disabled: box !== null && box.disabled,
			errors: Array.from(document.querySelectorAll("#composer .error"), e => e.textContent).join(" | "),
		}))(document.querySelector("#composer #message"))`)
		switch {
		case c.Text != text:
			return fmt.Sprintf("the composer holds %.60q (%d characters), want %.60q (%d)", c.Text, len(c.Text), text, len(text))
		case reason == "" && c.Errors != "":
			return fmt.Sprintf("the composer shows %q", c.Errors)
		case !strings.Contains(strings.ToLower(c.Errors), strings.ToLower(reason)):
			return fmt.Sprintf("the composer shows %q; the form is %s", c.Errors, p.composerHTML())
		case c.Disabled || !c.Focused:
			return fmt.Sprintf("the box is disabled=%v focused=%v (focus is on %s)", c.Disabled, c.Focused, evaluate[string](p, `document.activeElement.outerHTML.slice(0, 80)`))
		}
		return ""
	})
}

func cmpReason(reason string) string {
	if reason == "" {
		return "no error"
	}
	return fmt.Sprintf("%q next to it", reason)
}

func (p *browserPerson) waitForOnline(within time.Duration, emails ...string) {
	p.t.Helper()
	p.waitUntil(within, "who's online", func() string { return onlineNow(emails...).unlessShown(p.online()) })
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

// What a page shows.

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

func (p *browserPerson) composerText() string {
	p.t.Helper()
	return evaluate[string](p, `document.querySelector("#message").value`)
}

func (p *browserPerson) composerHTML() string {
	p.t.Helper()
	html := evaluate[string](p, `(document.querySelector("#composer") || document.body).outerHTML`)
	if len(html) > 2000 {
		html = html[:2000] + "…"
	}
	return html
}

func (p *browserPerson) sessionEndedShown() bool {
	p.t.Helper()
	return evaluate[bool](p, `(b => b !== null && !b.hidden && b.getClientRects().length > 0)(document.querySelector("#session-ended"))`)
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

func (p *browserPerson) expectNotices(want ...string) {
	p.t.Helper()
	if got := p.notices(); !slices.Equal(got, want) {
		p.t.Errorf("%s sees the notices\n\t%q\nwant\n\t%q", p.name, got, want)
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

func (p *browserPerson) connectionShown() bool {
	p.t.Helper()
	return evaluate[bool](p, `(c => !c.hidden && c.getClientRects().length > 0)(document.querySelector("#connection"))`)
}

func (p *browserPerson) connectionHTML() string {
	p.t.Helper()
	return evaluate[string](p, `document.querySelector("#connection").outerHTML`)
}

// widestElements names the elements that reach furthest right, to explain a
// page that scrolls sideways.
const widestElements = `Array.from(document.querySelectorAll("body *"))
	.map(e => [e.getBoundingClientRect().right, e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className ? "." + String(e.className).split(" ").join(".") : "")])
	.sort((a, b) => b[0] - a[0]).slice(0, 5).map(([right, name]) => name + " to " + Math.round(right) + "px")`

// Checks of a whole page.

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

// axeViolation is one rule a page breaks, with the elements that break it.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  []any  `json:"target"`
		HTML    string `json:"html"`
		Summary string `json:"failureSummary"`
	} `json:"nodes"`
}

// expectAxeClean runs axe-core on p's page as it is now and fails on every
// violation of serious or critical impact; lesser ones are logged.
func (p *browserPerson) expectAxeClean(axe, page string) {
	p.t.Helper()
	if !evaluate[bool](p, `typeof window.axe === "object"`) {
		// Injected through DevTools, which the page's CSP does not govern.
		evaluate[bool](p, axe+"\n;typeof window.axe === \"object\"")
	}
	start := time.Now()
	defer func() { p.t.Logf("axe on %s: %v", page, time.Since(start)) }()
	violations := evaluateAsync[[]axeViolation](p, `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations)`)
	for _, v := range violations {
		var where strings.Builder
		for _, n := range v.Nodes {
			fmt.Fprintf(&where, "\n\t%v %s\n\t\t%s", n.Target, n.HTML, strings.ReplaceAll(n.Summary, "\n", "\n\t\t"))
		}
		msg := fmt.Sprintf("%s: axe %s (%s): %s, on %d element(s):%s", page, v.ID, v.Impact, v.Help, len(v.Nodes), where.String())
		if v.Impact == "serious" || v.Impact == "critical" {
			p.t.Error(msg)
		} else {
			p.t.Log(msg)
		}
	}
}

// The server's side.

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

// port is the port of a base URL, to start the next instance on.
func port(t *testing.T, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}
