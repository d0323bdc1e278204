package main

import "testing"

// These tests drive real Chromium against the whole program, as people use
// it: each person has a browser context of their own (their own cookies, so
// their own session) in one shared browser. The harness they and the other
// browser tests drive is in browser_harness_test.go.

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
