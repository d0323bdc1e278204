package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/chatzilla/chatzilla/store/storetest"
)

// Nothing a person types is lost: each failure a send can meet ends with the
// text still in the composer and the cursor in it, and sending again sends
// the message once.
//
// Sends answered with the composer and its text are made with Send, not
// Enter: chromedp types Enter as two events, and the answer can come between
// them, so that the second puts a line break into the composer sent back.

func TestBrowserDraftSurvivesOversizeSend(t *testing.T) {
	chromium := requireChromium(t)
	app := startChatzilla(t, nil)
	browser := startBrowser(t, chromium)
	alice := browser.open(t, "Alice", javaScriptOn)
	alice.join(app.URL, "alice@example.com")
	alice.keepPageOpen()

	// Far more than any body limit: the server refuses it unread (413),
	// so only the page can give the text back.
	huge := strings.Repeat("All work and no play. ", 8_000)
	evaluate[bool](alice, fmt.Sprintf(`(box => { box.value = %q; box.dispatchEvent(new Event("input", {bubbles: true})); return true })(document.querySelector("#message"))`, huge))
	alice.do(chromedp.Click(chromedp.CSS("#send")))
	alice.waitForKeptDraft(huge, "too much")
}

func TestBrowserDraftSurvivesStoreDown(t *testing.T) {
	chromium := requireChromium(t)
	db := newCuttableProxy(t, storetest.PostgresURL(t))
	app := startChatzilla(t, map[string]string{"DATABASE_URL": db.URL})
	browser := startBrowser(t, chromium)
	alice := browser.open(t, "Alice", javaScriptOn)
	carol := browser.open(t, "Carol", javaScriptOff)
	alice.join(app.URL, "alice@example.com")
	alice.keepPageOpen()
	carol.join(app.URL, "carol@example.com")

	db.cut()
	alice.do(chromedp.SendKeys(chromedp.CSS("#message"), "Is the database up?"))
	alice.do(chromedp.Click(chromedp.CSS("#send")))
	alice.waitForKeptDraft("Is the database up?", "was not sent")

	// Without JavaScript the form posts a whole page, which comes back with
	// the composer filled.
	carol.sendWithPlainForm("Plain forms keep it too")
	if got := carol.composerText(); got != "Plain forms keep it too" {
		t.Errorf("after a plain-form send to a store that is down, Carol's composer holds %q", got)
	}
	if got := evaluate[string](carol, `(e => e ? e.textContent : "")(document.querySelector("#message-error"))`); !strings.Contains(got, "was not sent") {
		t.Errorf("Carol is not told her message was not sent; the page is:\n%s", evaluate[string](carol, `document.body.outerHTML`))
	}

	// Once the chat reaches its database again (under a loaded machine its
	// pool may take a while to), Alice sends again.
	db.restore()
	waitHealthy(t, app.URL, nil)
	sent := time.Now()
	alice.pressEnter()
	alice.waitForEmptyFocusedComposer(sent)
	// The store's follower, which broadcasts, reconnects with back-off.
	alice.waitUntil(reconnectDeadline, "the message, once", func() string {
		return alice.unlessMessagesInOrder([]string{"alice@example.com: Is the database up?"})
	})
	carol.submit(`#composer button[type="submit"]`)
	carol.expectMessages("alice@example.com: Is the database up?", "carol@example.com: Plain forms keep it too")
}

func TestBrowserDraftSurvivesNetworkDown(t *testing.T) {
	chromium := requireChromium(t)
	db := "sqlite:" + t.TempDir() + "/chat.db"
	first := startChatzilla(t, map[string]string{"DATABASE_URL": db})
	browser := startBrowser(t, chromium)
	alice := browser.open(t, "Alice", javaScriptOn)
	alice.join(first.URL, "alice@example.com")
	alice.keepPageOpen()

	// Counts the sends the page makes, to tell a new attempt from the last.
	evaluate[bool](alice, `document.addEventListener("htmx:before:request", e => {
		if (e.target.id === "composer") window.chatzillaSends = (window.chatzillaSends || 0) + 1;
	}) === undefined`)
	if err := first.stop(); err != nil {
		t.Fatalf("stopping chatzilla: %v", err)
	}
	alice.do(chromedp.SendKeys(chromedp.CSS("#message"), "Anyone there?"))
	alice.pressEnter()
	alice.waitForKeptDraft("Anyone there?", "Not sent.")
	if !evaluate[bool](alice, `(b => b !== null && b.textContent === "Retry")(document.querySelector("#not-sent button"))`) {
		t.Fatalf("no Retry button next to Not sent: %s", alice.composerHTML())
	}

	// Enter tries again while the server is still away.
	alice.pressEnter()
	alice.waitUntil(liveDeadline, "a second attempt", func() string {
		if n := evaluate[int](alice, `window.chatzillaSends`); n != 2 {
			return fmt.Sprintf("the page made %d sends, want 2", n)
		}
		return ""
	})
	alice.waitForKeptDraft("Anyone there?", "Not sent.")

	second := startChatzilla(t, map[string]string{"PORT": port(t, first.URL), "DATABASE_URL": db})
	sent := time.Now()
	alice.do(chromedp.Click(chromedp.CSS("#not-sent button")))
	alice.waitForEmptyFocusedComposer(sent)
	// The stream tried all along, with back-off growing to seconds.
	alice.waitUntil(2*reconnectDeadline, "the message, once, after the stream is back", func() string {
		return alice.unlessMessagesInOrder([]string{"alice@example.com: Anyone there?"})
	})
	if n := countLog(second, `msg=message`, "sender=alice@example.com"); n != 1 {
		t.Errorf("chatzilla stored %d messages of Alice's, want 1", n)
	}
}

func TestBrowserSessionEndedByNewSecret(t *testing.T) {
	chromium := requireChromium(t)
	db := "sqlite:" + t.TempDir() + "/chat.db"
	first := startChatzilla(t, map[string]string{"DATABASE_URL": db})
	browser := startBrowser(t, chromium)
	alice := browser.open(t, "Alice", javaScriptOn)
	carol := browser.open(t, "Carol", javaScriptOff)
	carol.join(first.URL, "carol@example.com")
	alice.join(first.URL, "alice@example.com")
	alice.keepPageOpen()
	alice.waitForNotice(liveDeadline, "alice@example.com joined") // her stream is up
	alice.do(chromedp.SendKeys(chromedp.CSS("#message"), "Half-written thought"))
	if alice.sessionEndedShown() {
		t.Fatal("Your session ended is shown while joined")
	}

	// A restart with a new secret: Alice's cookie no longer opens anything,
	// and her page must say so rather than reconnect forever.
	if err := first.stop(); err != nil {
		t.Fatalf("stopping chatzilla: %v", err)
	}
	second := startChatzilla(t, map[string]string{"PORT": port(t, first.URL), "DATABASE_URL": db, "SESSION_SECRET": strings.Repeat("n", 32)})
	took := alice.waitUntil(reconnectDeadline, "the stream's 401 shows Your session ended", func() string {
		if !alice.sessionEndedShown() {
			return "it is not shown; the top of the page is: " + evaluate[string](alice, `document.querySelector("header").outerHTML`)
		}
		if alice.connectionShown() {
			return "Reconnecting… is still shown"
		}
		return ""
	})
	t.Logf("Your session ended shown %v after the new instance started", took.Round(time.Millisecond))
	if !evaluate[bool](alice, `window.chatzillaPageKeptOpen === true`) {
		t.Fatal("the page was reloaded")
	}

	alice.do(chromedp.Click(chromedp.CSS("#send")))
	alice.waitForKeptDraft("Half-written thought", "join again")

	// One click, no typing: the same address, and the draft comes along.
	alice.submit("#session-ended button")
	if got := evaluate[string](alice, `document.querySelector(".me-email").textContent`); got != "alice@example.com" {
		t.Fatalf("after Join again, the page is for %q", got)
	}
	alice.waitForKeptDraft("Half-written thought", "")
	alice.keepPageOpen()
	sent := time.Now()
	alice.do(chromedp.KeyEvent(kb.Enter))
	alice.waitForLiveMessage("alice@example.com: Half-written thought", sent)
	alice.waitForEmptyFocusedComposer(sent)
	if n := countLog(second, `msg=message`, "sender=alice@example.com"); n != 1 {
		t.Errorf("chatzilla stored %d messages of Alice's, want 1", n)
	}
	// Sent, so no longer a draft: a reload shows an empty composer.
	alice.do(chromedp.Reload())
	if got := alice.composerText(); got != "" {
		t.Errorf("after the draft was sent and the page reloaded, the composer holds %q", got)
	}

	// Without JavaScript the send leads to the join form (303 to /), which
	// says the message is kept; joining again puts it back in the box.
	carol.sendWithPlainForm("Sent after the restart")
	if got := evaluate[string](carol, `(e => e ? e.textContent : "")(document.querySelector("#draft-kept"))`); !strings.Contains(got, "Your session ended") {
		t.Fatalf("Carol's send without a session does not say the session ended; the page is:\n%s", evaluate[string](carol, `document.body.outerHTML`))
	}
	carol.do(chromedp.SendKeys(chromedp.CSS("#email"), "carol@example.com"))
	carol.submit(`form[action="/join"] button[type="submit"]`)
	if got := carol.composerText(); got != "Sent after the restart" {
		t.Fatalf("after joining again, Carol's composer holds %q", got)
	}
	carol.submit(`#composer button[type="submit"]`)
	carol.expectMessages("alice@example.com: Half-written thought", "carol@example.com: Sent after the restart")
	if got := carol.composerText(); got != "" {
		t.Errorf("after sending the kept draft, Carol's composer holds %q", got)
	}
}

// Leave ends the session on the server: a copy of its cookie, in another
// browser with the chat open and a message half-written, is told at once
// that the session ended, keeps the text, and joins again in one click.
func TestBrowserLeaveEndsACopiedSession(t *testing.T) {
	chromium := requireChromium(t)
	app := startChatzilla(t, nil)
	browser := startBrowser(t, chromium)
	alice := browser.open(t, "Alice", javaScriptOn)
	copied := browser.open(t, "the browser with Alice's copied cookie", javaScriptOn)
	alice.join(app.URL, "alice@example.com")
	copied.copyCookiesFrom(alice, app.URL)
	copied.do(chromedp.Navigate(app.URL + "/"))
	if got := evaluate[string](copied, `(e => e ? e.value : "not the chat")(document.querySelector("#session-ended input[name=email]"))`); got != "alice@example.com" {
		t.Fatalf("the copied cookie opens %q, want Alice's chat", got)
	}
	copied.keepPageOpen()
	waitForLog(t, app, 2, `msg="stream connected"`, "sender=alice@example.com") // both pages are live
	copied.do(chromedp.SendKeys(chromedp.CSS("#message"), "Written on the other device"))

	alice.submit(`form[action="/leave"] button:not([name])`)
	took := copied.waitUntil(reconnectDeadline, "Your session ended, after Leave elsewhere", func() string {
		if !copied.sessionEndedShown() {
			return "it is not shown"
		}
		if copied.connectionShown() {
			return "Reconnecting… is still shown"
		}
		return ""
	})
	t.Logf("the copy shows Your session ended %v after Leave", took.Round(time.Millisecond))

	copied.do(chromedp.Click(chromedp.CSS("#send")))
	copied.waitForKeptDraft("Written on the other device", "join again")
	copied.submit("#session-ended button")
	copied.waitForKeptDraft("Written on the other device", "")
	copied.keepPageOpen()
	sent := time.Now()
	copied.do(chromedp.KeyEvent(kb.Enter))
	copied.waitForLiveMessage("alice@example.com: Written on the other device", sent)
	if n := countLog(app, `msg=message`, "sender=alice@example.com"); n != 1 {
		t.Errorf("chatzilla stored %d messages of Alice's, want 1", n)
	}
}
