package main

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// colourSchemes are the two themes the stylesheet has.
var colourSchemes = []string{"light", "dark"}

// TestBrowserAxeFindsNothingSerious audits every page a person sees with
// axe-core: the join page, the join page refusing an address (422), and the
// chat with messages, notices and people online, at a laptop's and a
// phone's width, in light and dark. One browser tab does it all, and the
// others in the chat post over plain HTTP, to keep the test light.
func TestBrowserAxeFindsNothingSerious(t *testing.T) {
	chromium := requireChromium(t)
	axe := requireAxe(t)
	app := startChatzilla(t, nil)
	browser := startBrowser(t, chromium)
	alice := browser.open(t, "Alice", javaScriptOn)

	for _, scheme := range colourSchemes {
		alice.prefersColourScheme(scheme)
		alice.do(chromedp.Navigate(app.URL + "/"))
		alice.expectAxeClean(axe, "join page, "+scheme)

		// An address the browser's own check lets through but the
		// server refuses.
		alice.do(chromedp.SendKeys(chromedp.CSS("#email"), "bob@example.com (Bob)"))
		evaluate[bool](alice, `document.querySelector("form.join").noValidate = true`)
		alice.submit(`form[action="/join"] button[type="submit"]`)
		if !evaluate[bool](alice, `document.querySelector("#email-error") !== null`) {
			t.Fatalf("the join page shows no error for a refused address; it is:\n%s", evaluate[string](alice, `document.body.outerHTML`))
		}
		alice.expectAxeClean(axe, "join page with an error (422), "+scheme)
	}

	// Enough history that the list scrolls at every size, which is when
	// axe asks that it can be reached by keyboard.
	bob, dave := join(t, app.URL, "bob.martinez@example.org"), join(t, app.URL, "dave@example.com")
	for i := range 8 {
		dave.say(fmt.Sprintf("Earlier message %d, long enough to wrap onto a second line on a phone's narrow screen.", 2*i+1))
		bob.say(fmt.Sprintf("Earlier reply %d: a little shorter.", 2*i+2))
	}
	alice.join(app.URL, "alice@example.com")
	alice.keepPageOpen()
	sent := time.Now()
	bob.say("Morning, Alice!")
	alice.waitForMessage("bob.martinez@example.org: Morning, Alice!", sent) // the stream is up

	for _, size := range []struct {
		name          string
		width, height int64
		phone         bool
	}{{"1280 px", 1280, 800, false}, {"360 px", 360, 740, true}} {
		if size.phone {
			alice.do(chromedp.EmulateViewport(size.width, size.height, chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch))
		} else {
			alice.do(chromedp.EmulateViewport(size.width, size.height))
		}
		if !evaluate[bool](alice, `(l => l.scrollHeight > l.clientHeight)(document.querySelector("#messages").parentElement)`) { // the list's scroll container
			t.Errorf("at %s the message list does not scroll, so its keyboard access goes unchecked", size.name)
		}
		for _, scheme := range colourSchemes {
			alice.prefersColourScheme(scheme)
			alice.expectAxeClean(axe, fmt.Sprintf("chat page at %s, %s", size.name, scheme))
		}
	}
}

// TestBrowserAxeRoomPages audits what rooms add: the sidebar with an unread
// count, a room opened at the "New since your last visit" line, an open room
// one is not in (Join in place of the composer), and the rooms menu open on
// a phone, in light and dark.
func TestBrowserAxeRoomPages(t *testing.T) {
	chromium := requireChromium(t)
	axe := requireAxe(t)
	app := startChatzilla(t, nil)
	browser := startBrowser(t, chromium)
	alice := browser.open(t, "Alice", javaScriptOn)
	dave := join(t, app.URL, "dave@example.com")
	dave.postForm("/rooms", url.Values{"name": {"Design"}})
	dave.postForm("/rooms", url.Values{"name": {"Lobby"}})
	dave.postForm("/rooms/design/messages", url.Values{"message": {"Before Alice came"}})

	alice.join(app.URL, "alice@example.com")
	alice.do(chromedp.Navigate(app.URL + "/rooms/design"))
	for _, scheme := range colourSchemes {
		alice.prefersColourScheme(scheme)
		alice.expectAxeClean(axe, "an open room one is not in, "+scheme)
	}
	alice.submit(`form[action="/rooms/design/join"] button[type="submit"]`)
	alice.do(chromedp.Navigate(app.URL + "/"))
	for i := range 6 {
		dave.postForm("/rooms/design/messages", url.Values{"message": {fmt.Sprintf("While Alice was away, %d: long enough to wrap onto a second line on a phone.", i)}})
	}
	alice.do(chromedp.Navigate(app.URL + "/"))
	if got := alice.badge("/rooms/design"); got != "6" {
		t.Fatalf("Alice's sidebar counts %q unread in Design, want 6", got)
	}
	for _, scheme := range colourSchemes {
		alice.prefersColourScheme(scheme)
		alice.expectAxeClean(axe, "general with an unread count, "+scheme)
	}
	alice.do(chromedp.Navigate(app.URL + "/rooms/design"))
	if !evaluate[bool](alice, `document.querySelector("#new-since") !== null`) {
		t.Fatal("Design opens without the new-since line")
	}
	for _, scheme := range colourSchemes {
		alice.prefersColourScheme(scheme)
		alice.expectAxeClean(axe, "a room at the new-since line, "+scheme)
	}
	alice.do(chromedp.EmulateViewport(360, 740, chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch))
	alice.do(chromedp.Click(chromedp.CSS(".rooms-toggle")))
	for _, scheme := range colourSchemes {
		alice.prefersColourScheme(scheme)
		alice.expectAxeClean(axe, "the rooms menu open at 360 px, "+scheme)
	}
}
