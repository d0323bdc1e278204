package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

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

// colourSchemes are the two themes the stylesheet has.
var colourSchemes = []string{"light", "dark"}

func (p *browserPerson) prefersColourScheme(scheme string) {
	p.t.Helper()
	_, err := chromedp.Call(p.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	})
	if err != nil {
		p.t.Fatalf("%s's browser in %s mode: %v", p.name, scheme, err)
	}
}

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
