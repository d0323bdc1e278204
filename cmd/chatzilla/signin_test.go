package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chatzilla/chatzilla/mail/mailtest"
)

// TestSignInLinkInTheLog: with SMTP_URL=log: (the README's development
// command) the mail, link and all, goes to the log, and the link works.
func TestSignInLinkInTheLog(t *testing.T) {
	app := startChatzilla(t, map[string]string{"SMTP_URL": "log:"})
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := c.PostForm(app.URL+"/join", url.Values{"email": {"dev@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/check-inbox" {
		t.Fatalf("join ended at %s, want /check-inbox", resp.Request.URL)
	}
	var link string
	for deadline := time.Now().Add(5 * time.Second); link == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		link = regexp.MustCompile(`http://localhost:\d+/sign-in\?token=[A-Za-z0-9]+`).FindString(app.logs.String())
	}
	if link == "" {
		t.Fatalf("no sign-in link in the log:\n%s", app.logs)
	}
	_, token, _ := strings.Cut(link, "token=")
	if resp, err = c.PostForm(strings.Replace(link, "/sign-in?token="+token, "/sign-in", 1), url.Values{"token": {token}}); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	base, _, _ := strings.Cut(link, "/sign-in") // the cookie is for the link's host
	page, err := c.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer page.Body.Close()
	body, _ := io.ReadAll(page.Body)
	if !strings.Contains(string(body), `id="composer"`) {
		t.Errorf("after following the logged link, / is not the chat:\n%s", body)
	}
}

// TestBrowserSignInByEmail: a person asks for a link, follows it from the
// mail in Chromium, signs in with the button and chats; a second person
// does the same without JavaScript. The mail goes through a real SMTP
// server on loopback.
func TestBrowserSignInByEmail(t *testing.T) {
	chromium := requireChromium(t)
	axe := requireAxe(t)
	smtp := mailtest.NewServer(t)
	const public = "https://chat.example.test"
	app := startChatzilla(t, map[string]string{"SIGN_IN": "email", "SMTP_URL": smtp.URL(), "PUBLIC_URL": public})
	browser := startBrowser(t, chromium)
	ann := browser.open(t, "Ann", javaScriptOn)
	bob := browser.open(t, "Bob", javaScriptOff)
	ann.show(screen{name: "phone", width: 360, height: 740, phone: true})
	bob.show(screen{name: "desktop, dark", width: 1280, height: 800, dark: true})
	// Each page is looked at (with CHATZILLA_SCREENSHOTS) and checked by
	// axe, which runs as a script: in Ann's tab, where scripts run.
	shot := func(p *browserPerson, page string) {
		p.saveScreenshot("signin-" + page + "-" + strings.ToLower(p.name) + ".png")
		if p == ann {
			p.expectAxeClean(axe, page+" page at 360 px")
		}
	}

	signIn := func(p *browserPerson, email string) {
		p.t.Helper()
		p.do(chromedp.Navigate(app.URL+"/"), chromedp.SendKeys(chromedp.CSS("#email"), email))
		shot(p, "join")
		p.submit(`form[action="/join"] button[type="submit"]`)
		shot(p, "inbox")
		if body := evaluate[string](p, `document.body.innerText`); !strings.Contains(body, "Check your inbox") || !strings.Contains(body, "…@example.com") {
			t.Fatalf("%s asked for a link and sees:\n%s", p.name, body)
		}
		m := smtp.WaitFor(t, email, 10*time.Second)
		link := regexp.MustCompile(regexp.QuoteMeta(public) + `/sign-in\?token=[A-Za-z0-9]+`).FindString(m.Body)
		if link == "" {
			t.Fatalf("the mail to %s has no link to %s:\n%s", email, public, m.Body)
		}
		// The test's stand-in for DNS: PUBLIC_URL names the app.
		p.do(chromedp.Navigate(app.URL + strings.TrimPrefix(link, public)))
		if evaluate[bool](p, `document.querySelector("#composer") !== null`) {
			t.Fatalf("opening the link signed %s in without the button", p.name)
		}
		shot(p, "button")
		p.submit(`form[action="/sign-in"] button[type="submit"]`)
		if !evaluate[bool](p, `document.querySelector("#composer") !== null`) {
			t.Fatalf("%s pressed Sign in and sees no chat:\n%s", p.name, evaluate[string](p, `document.body.innerText`))
		}
	}
	signIn(ann, "ann@example.com")
	signIn(bob, "bob@example.com")

	// Bob names himself, with a typo first.
	bob.do(chromedp.Navigate(app.URL + "/profile"))
	bob.do(chromedp.SendKeys(chromedp.CSS("#name"), "Bob @ home"))
	bob.submit(`form[action="/profile"] button[type="submit"]`)
	shot(bob, "profile-refused")
	bob.do(chromedp.SetValue(chromedp.CSS("#name"), "Bob Builder"))
	bob.submit(`form[action="/profile"] button[type="submit"]`)
	if got := evaluate[string](bob, `document.querySelector("#name").value`); got != "Bob Builder" {
		t.Fatalf("Bob's profile shows %q after saving", got)
	}
	bob.do(chromedp.Navigate(app.URL + "/"))
	ann.do(chromedp.Navigate(app.URL + "/"))
	if people := evaluate[string](ann, `document.querySelector("#people").textContent`); !strings.Contains(people, "Bob Builder") {
		t.Errorf("Ann's who's online does not show Bob's name: %q", people)
	}
	ann.keepPageOpen()

	sent := ann.send("signed in by mail")
	ann.waitForLiveMessage("ann@example.com: signed in by mail", sent)
	sent = bob.sendWithPlainForm("me too, without JavaScript")
	ann.waitForLiveMessage("bob@example.com: me too, without JavaScript", sent)
	if n := evaluate[int](ann, `document.querySelectorAll("#messages li.msg.verified").length`); n != 2 {
		t.Errorf("Ann sees %d verified marks, want one on each of the 2 messages:\n%s", n, ann.messagesHTML())
	}
	if name := evaluate[string](ann, `document.querySelector("#messages li.msg:last-child").dataset.name`); name != "Bob Builder" {
		t.Errorf("Bob's message is headed %q, want his display name", name)
	}
	bob.do(chromedp.Navigate(app.URL + "/"))
	shot(ann, "chat")
	shot(bob, "chat")
}
