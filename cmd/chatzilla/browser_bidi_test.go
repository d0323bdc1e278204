package main

import (
	"fmt"
	"testing"
	"time"
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
		TextRight    float64    `json:"textRight"`    // right edge of its text
		TimeLeft     float64    `json:"timeLeft"`     // left edge of its time
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
		const text = over.querySelector("b").nextElementSibling, time = over.querySelector("time");
		const nextText = next.querySelector("b").nextElementSibling;
		const heb = hebrew.querySelector("b bdi") || hebrew.querySelector("b");
		return {
			overrideText: edges(text, 1, -1),
			overrideTime: edges(time, 0, -1),
			textRight: text.getBoundingClientRect().right,
			timeLeft: time.getBoundingClientRect().left,
			nextSender: edges(next.querySelector("b"), 0, -1),
			nextText: edges(nextText, 0, -1),
			nextTime: edges(next.querySelector("time"), 0, -1),
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
	if l.TimeLeft < l.TextRight {
		t.Errorf("the overridden message's time (left %.0f) moved before its text (right %.0f)", l.TimeLeft, l.TextRight)
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
