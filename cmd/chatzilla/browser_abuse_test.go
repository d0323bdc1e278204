package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chatzilla/chatzilla/store"
)

// TestBrowserDirectionControlsStayInTheirMessage: a message with a
// right-to-left override (U+202E) shows its own text reversed, as its
// sender asked, but nothing outside it: not its time, not the sender's
// address, not the next message. Right-to-left text shows the right way
// round, and so does an address with Hebrew letters in it.
func TestBrowserDirectionControlsStayInTheirMessage(t *testing.T) {
	chromium := requireChromium(t)
	app := startChatzilla(t, nil)
	browser := startBrowser(t, chromium)
	alice := browser.open(t, "Alice", javaScriptOn)
	alice.join(app.URL, "alice@example.com")
	alice.keepPageOpen()

	eve := join(t, app.URL, "eve@example.com")
	dana := join(t, app.URL, "\u05d3\u05e0\u05d4@example.com") // דנה
	sent := time.Now()
	eve.say("\u202eabcdef 12:00")
	eve.say("next message")
	dana.say("\u05e9\u05dc\u05d5\u05dd") // שלום
	alice.waitForMessage("eve@example.com: \u202eabcdef 12:00", sent)
	alice.waitForMessage("eve@example.com: next message", sent)
	alice.waitForMessage("\u05d3\u05e0\u05d4@example.com: \u05e9\u05dc\u05d5\u05dd", sent)

	// Where on screen the first and last characters of a piece of a
	// message are: left to right if first < last.
	type layout struct {
		OverrideText [2]float64 `json:"overrideText"` // "abcdef 12:00", overridden
		OverrideTime [2]float64 `json:"overrideTime"` // its time
		SenderRight  float64    `json:"senderRight"`  // right edge of its sender, in the header above the text
		TimeLeft     float64    `json:"timeLeft"`     // left edge of its time, after the sender
		NextSender   [2]float64 `json:"nextSender"`
		NextText     [2]float64 `json:"nextText"`
		NextTime     [2]float64 `json:"nextTime"`
		HebrewText   [2]float64 `json:"hebrewText"` // שלום, right to left
		HebrewDomain [2]float64 `json:"hebrewDomain"`
	}
	l := evaluate[layout](alice, `(() => {
		const items = Array.from(document.querySelectorAll("#messages > li[id^='m-']"));
		const edges = (el, first, last) => {
			const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
			const node = walk.nextNode();
			const x = (i) => { const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + 1); return r.getBoundingClientRect().left; };
			return [x(first), x(node.textContent.length + last)];
		};
		const [over, next, hebrew] = items;
		const text = over.querySelector("b").nextElementSibling, time = over.querySelector("time:not(.day)");
		const nextText = next.querySelector("b").nextElementSibling;
		const heb = hebrew.querySelector("b bdi") || hebrew.querySelector("b");
		return {
			overrideText: edges(text, 1, -1),
			overrideTime: edges(time, 0, -1),
			senderRight: over.querySelector("b").getBoundingClientRect().right,
			timeLeft: time.getBoundingClientRect().left,
			nextSender: edges(next.querySelector("b"), 0, -1),
			nextText: edges(nextText, 0, -1),
			nextTime: edges(next.querySelector("time:not(.day)"), 0, -1),
			hebrewText: edges(hebrew.querySelector("b").nextElementSibling, 0, -1),
			hebrewDomain: edges(heb, 4, -1),
		};
	})()`)
	ltr := func(name string, e [2]float64) {
		if !(e[0] < e[1]) {
			t.Errorf("%s reads right to left (first character at x=%.0f, last at x=%.0f)", name, e[0], e[1])
		}
	}
	// The override works where it belongs: the test can tell.
	if !(l.OverrideText[0] > l.OverrideText[1]) {
		t.Errorf("the overridden text is not reversed (%v): the page no longer shows what was sent, or the test measures nothing", l.OverrideText)
	}
	ltr("the overridden message's time", l.OverrideTime)
	if l.TimeLeft < l.SenderRight {
		t.Errorf("the overridden message's time (left %.0f) moved before its sender (right %.0f)", l.TimeLeft, l.SenderRight)
	}
	ltr("the next message's sender", l.NextSender)
	ltr("the next message's text", l.NextText)
	ltr("the next message's time", l.NextTime)
	if !(l.HebrewText[0] > l.HebrewText[1]) {
		t.Errorf("Hebrew text does not read right to left: %v", l.HebrewText)
	}
	ltr("the domain after a Hebrew name", l.HebrewDomain)
	t.Log(fmt.Sprintf("%+v", l))
}

// TestBrowserFarBehindPageReloadsItsList: a page whose stream comes back
// further behind than the server replays is told so, and fetches its list
// afresh, without a reload: the messages it missed show, in order, and the
// draft in the composer is still there.
func TestBrowserFarBehindPageReloadsItsList(t *testing.T) {
	chromium := requireChromium(t)
	path := t.TempDir() + "/chat.db"
	first := startChatzilla(t, map[string]string{"DATABASE_URL": "sqlite:" + path})
	u, err := url.Parse(first.URL)
	if err != nil {
		t.Fatal(err)
	}
	browser := startBrowser(t, chromium)
	alice := browser.open(t, "Alice", javaScriptOn)
	alice.join(first.URL, "alice@example.com")
	alice.keepPageOpen()
	sent := time.Now()
	join(t, first.URL, "bob@example.com").say("before the restart")
	alice.waitForLiveMessage("bob@example.com: before the restart", sent)
	alice.do(chromedp.SendKeys(chromedp.CSS("#message"), "half a thought"))

	if err := first.stop(); err != nil {
		t.Fatal(err)
	}
	// Eight messages while Alice's page is away: more than the next
	// instance replays.
	want := []string{"bob@example.com: before the restart"}
	missed := make([]string, 8)
	for i := range missed {
		missed[i] = fmt.Sprintf("missed %d", i+1)
		want = append(want, "ann@example.com: "+missed[i])
	}
	st, err := store.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range missed {
		if _, err := st.AddMessageOnce(context.Background(), "ann@example.com", m, ""); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	second := startChatzilla(t, map[string]string{"PORT": u.Port(), "DATABASE_URL": "sqlite:" + path, "REPLAY_MAX": "3"})
	for _, m := range want[1:] {
		alice.waitForMessage(m, time.Now().Add(reconnectDeadline))
	}
	if !strings.Contains(second.logs.String(), "told to reload") {
		t.Errorf("the page caught up, but not through a reload of its list:\n%s", second.logs.String())
	}
	if !evaluate[bool](alice, `window.chatzillaPageKeptOpen === true`) {
		t.Error("the page was reloaded; only its list should have been")
	}
	if draft := alice.composerText(); draft != "half a thought" {
		t.Errorf("the draft is %q after the list was reloaded", draft)
	}
	sent = time.Now()
	join(t, second.URL, "carol@example.com").say("after the restart")
	alice.waitForLiveMessage("carol@example.com: after the restart", sent)
	alice.expectMessages(append(want, "carol@example.com: after the restart")...)
}
