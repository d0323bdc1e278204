package handlers_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/handlers"
	"github.com/chatzilla/chatzilla/mail"
	"github.com/chatzilla/chatzilla/mail/mailtest"
	"github.com/chatzilla/chatzilla/store"
)

// publicURL is where the tests' sign-in links point: not the test server's
// address, so that a link built from the request would show.
const publicURL = "https://chat.example.test"

// emailSignIn sets the server up for SIGN_IN=email, mailing through a real
// SMTP server on loopback.
func emailSignIn(t *testing.T) (*mailtest.Server, func(*handlers.Options)) {
	t.Helper()
	smtp := mailtest.NewServer(t)
	sender, err := mail.Open(smtp.URL(), "Chatzilla <chat@example.test>", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	outbox := mail.NewOutbox(sender, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go outbox.Run(ctx)
	return smtp, func(o *handlers.Options) {
		o.EmailSignIn, o.Mailer, o.PublicURL = true, outbox, publicURL
	}
}

var linkInMail = regexp.MustCompile(`https?://\S+/sign-in\?token=[A-Za-z0-9]+`)

// mailedLink is the link in the latest mail to email, pointed at ts.
func mailedLink(t *testing.T, ts *testServer, smtp *mailtest.Server, email string) string {
	t.Helper()
	m := smtp.WaitFor(t, email, 5*time.Second)
	link := linkInMail.FindString(m.Body)
	if !strings.HasPrefix(link, publicURL+"/sign-in?token=") {
		t.Fatalf("mail to %s has no link to %s:\n%s", email, publicURL, m.Body)
	}
	return ts.URL + strings.TrimPrefix(link, publicURL)
}

func joinedPage(t *testing.T, c *http.Client, ts *testServer) bool {
	t.Helper()
	return strings.Contains(get(t, c, ts.URL+"/").body, `id="composer"`)
}

func TestEmailSignInFlow(t *testing.T) {
	smtp, mode := emailSignIn(t)
	ts := newTestServer(t, mode)
	c := ts.client(t)

	resp := post(t, c, ts.URL+"/join", url.Values{"email": {"ann@example.com"}}, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/check-inbox" {
		t.Fatalf("join: %d to %q, want 303 to /check-inbox", resp.StatusCode, resp.Header.Get("Location"))
	}
	if joinedPage(t, c, ts) {
		t.Fatal("POST /join alone started a session")
	}
	if page := get(t, c, ts.URL+"/check-inbox"); !strings.Contains(page.body, "a…@example.com") || strings.Contains(page.body, ">ann@example.com<") {
		t.Errorf("check-inbox page does not show the masked address alone:\n%s", page.body)
	}
	link := mailedLink(t, ts, smtp, "ann@example.com")

	// Opening the link, as a mail scanner does, signs no one in.
	page := get(t, c, link)
	if page.StatusCode != http.StatusOK || !strings.Contains(page.body, "Sign in as <bdi>ann@example.com</bdi>") {
		t.Fatalf("the link's page: %d\n%s", page.StatusCode, page.body)
	}
	if joinedPage(t, c, ts) {
		t.Fatal("GET of the link started a session")
	}
	token := page.doc(t).Find(`input[name=token]`).AttrOr("value", "")
	resp = post(t, c, ts.URL+"/sign-in", url.Values{"token": {token}}, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("sign in: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if !joinedPage(t, c, ts) {
		t.Fatal("signing in did not start a session")
	}
	if resp := post(t, c, ts.URL+"/messages", url.Values{"message": {"hello, verified"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("post: %d", resp.StatusCode)
	}
	if ms := ts.messages(t); len(ms) != 1 || !ms[0].Verified || ms[0].Sender != "ann@example.com" {
		t.Errorf("stored %+v, want one verified message from ann", ms)
	}
	if get(t, c, ts.URL+"/").doc(t).Find("#messages li.msg.verified").Length() != 1 {
		t.Error("the chat shows no verified mark next to ann's message")
	}

	// The link works once, in any browser.
	other := ts.client(t)
	if resp := post(t, other, ts.URL+"/sign-in", url.Values{"token": {token}}, false); resp.StatusCode != http.StatusGone || !strings.Contains(resp.body, "used already") {
		t.Errorf("reused token: %d\n%s", resp.StatusCode, resp.body)
	}
	if joinedPage(t, other, ts) {
		t.Error("a reused token started a session")
	}
}

// askedForLink is a server in SIGN_IN=email mode and a browser that has
// asked it for a link to email.
func askedForLink(t *testing.T, email string) (*testServer, *http.Client, *mailtest.Server) {
	t.Helper()
	smtp, mode := emailSignIn(t)
	ts := newTestServer(t, mode)
	c := ts.client(t)
	if resp := post(t, c, ts.URL+"/join", url.Values{"email": {email}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("asking for a link: %d\n%s", resp.StatusCode, resp.body)
	}
	return ts, c, smtp
}

func TestSignInLinksThatDoNotWork(t *testing.T) {
	ts, c, smtp := askedForLink(t, "bob@example.com")
	link := mailedLink(t, ts, smtp, "bob@example.com")
	token := strings.TrimPrefix(link, ts.URL+"/sign-in?token=")

	// An expired token, stored as the server stores them.
	expired := "EXPIREDTOKENEXPIREDTOKEN12"
	now := time.Now()
	if err := ts.store.CreateSignInToken(context.Background(), store.SignInToken{
		Hash: store.SignInTokenHash(expired), Email: "bob@example.com", CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-45 * time.Minute),
	}); err != nil {
		t.Fatal(err)
	}
	// Its last letter changed (to A, or to B if it was an A).
	swap := "A"
	if token[len(token)-1] == 'A' {
		swap = "B"
	}
	tampered := token[:len(token)-1] + swap
	for _, tt := range []struct {
		name, token string
		status      int
		says        string
	}{
		{"tampered", tampered, http.StatusNotFound, "not one of ours"},
		{"unknown", "nosuchtoken", http.StatusNotFound, "not one of ours"},
		{"empty", "", http.StatusNotFound, "not one of ours"},
		{"expired", expired, http.StatusGone, "expired"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, resp := range []response{
				get(t, c, ts.URL+"/sign-in?token="+url.QueryEscape(tt.token)),
				post(t, c, ts.URL+"/sign-in", url.Values{"token": {tt.token}}, false),
			} {
				if resp.StatusCode != tt.status || !strings.Contains(resp.body, tt.says) || !strings.Contains(resp.body, `action="/join"`) {
					t.Errorf("%s %s: %d, want %d saying %q with a way to a new link:\n%s", resp.Request.Method, tt.name, resp.StatusCode, tt.status, tt.says, resp.body)
				}
			}
			if joinedPage(t, c, ts) {
				t.Error("a bad token started a session")
			}
		})
	}
}

func TestSignInMailIsRateLimited(t *testing.T) {
	ts, c, smtp := askedForLink(t, "cy@example.com")
	smtp.WaitFor(t, "cy@example.com", 5*time.Second)

	// Again at once: too soon.
	resp := post(t, c, ts.URL+"/join", url.Values{"email": {"cy@example.com"}}, false)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(resp.body, "less than a minute ago") || resp.Header.Get("Retry-After") == "" {
		t.Errorf("second link at once: %d %q\n%s", resp.StatusCode, resp.Header.Get("Retry-After"), resp.body)
	}
	// Five in the last hour (made earlier, as another instance would).
	now := time.Now()
	for i := range 5 {
		if err := ts.store.CreateSignInToken(context.Background(), store.SignInToken{
			Hash: store.SignInTokenHash("old" + string(rune('a'+i))), Email: "dee@example.com", CreatedAt: now.Add(-time.Duration(10+i) * time.Minute), ExpiresAt: now.Add(5 * time.Minute),
		}); err != nil {
			t.Fatal(err)
		}
	}
	resp = post(t, c, ts.URL+"/join", url.Values{"email": {"dee@example.com"}}, false)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(resp.body, "in the last hour") {
		t.Errorf("sixth link in an hour: %d\n%s", resp.StatusCode, resp.body)
	}
	time.Sleep(300 * time.Millisecond)
	for _, m := range smtp.Messages() {
		if len(m.To) > 0 && m.To[0] == "dee@example.com" {
			t.Error("a sixth link in an hour was mailed")
		}
	}
}

// TestForgedHostStillMailsThePublicURL: the link comes from PUBLIC_URL, so a
// join sent with someone else's Host header cannot mail a victim a working
// token on another site.
func TestForgedHostStillMailsThePublicURL(t *testing.T) {
	smtp, mode := emailSignIn(t)
	ts := newTestServer(t, mode)
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/join", strings.NewReader(url.Values{"email": {"eve@example.com"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Host = "evil.example"
	req.Header.Set("X-Forwarded-Host", "evil.example")
	if resp := do(t, ts.client(t), req); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("join with a forged Host: %d\n%s", resp.StatusCode, resp.body)
	}
	m := smtp.WaitFor(t, "eve@example.com", 5*time.Second)
	if strings.Contains(m.Body, "evil.example") || !strings.Contains(m.Body, publicURL+"/sign-in?token=") {
		t.Errorf("the mail's link does not point to PUBLIC_URL:\n%s", m.Body)
	}
}

func TestOpenSignInStillJoinsAtOnce(t *testing.T) {
	ts := newTestServer(t)
	c := ts.joined(t, "fay@example.com")
	if !joinedPage(t, c, ts) {
		t.Fatal("open join did not start a session")
	}
	if page := get(t, ts.client(t), ts.URL+"/"); !strings.Contains(page.body, "unverified") {
		t.Error("the open join page does not say names are unverified")
	}
	post(t, c, ts.URL+"/messages", url.Values{"message": {"hi"}}, false)
	if ms := ts.messages(t); len(ms) != 1 || ms[0].Verified {
		t.Errorf("open-mode message stored as %+v, want unverified", ms)
	}
}

func TestDisplayNames(t *testing.T) {
	ts := newTestServer(t)
	ann := ts.joined(t, "ann@example.com")
	bob := ts.joined(t, "bob@example.com")

	if resp := post(t, ann, ts.URL+"/profile", url.Values{"name": {"  Ann   Lee "}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("setting a name: %d\n%s", resp.StatusCode, resp.body)
	}
	if page := get(t, ann, ts.URL+"/profile"); page.doc(t).Find("#name").AttrOr("value", "") != "Ann Lee" {
		t.Errorf("profile shows %q, want the name saved", page.doc(t).Find("#name").AttrOr("value", ""))
	}
	post(t, ann, ts.URL+"/messages", url.Values{"message": {"named"}}, false)
	get(t, ann, ts.URL+"/here") // a page load without JavaScript: Ann is online
	waitFor(t, func() bool {
		return strings.Contains(get(t, bob, ts.URL+"/").doc(t).Find("#people .person-name").Text(), "Ann Lee")
	}, "who's online to show Ann's display name")
	li := get(t, bob, ts.URL+"/").doc(t).Find("#messages li.msg").Last()
	if li.AttrOr("data-name", "") != "Ann Lee" || li.Find("b bdi").Text() != "ann@example.com" {
		t.Errorf("message shows name %q and sender %q, want Ann Lee with the address", li.AttrOr("data-name", ""), li.Find("b bdi").Text())
	}

	for _, tt := range []struct{ name, says string }{
		{"ann.lee", "goes by that name"}, // the same name to the eye
		{"ANN LEE", "goes by that name"}, //
		{"ann@example.com", "contain @"},
		{"Ann\u202eeeL", "invisible or direction-changing"},
		{"Аnn", "look-alike"}, // a Cyrillic А
		{"Ａｎｎ", "look-alike"}, // full-width letters
		{"...", "at least one letter"},
		{strings.Repeat("x", 41), "too long"},
	} {
		resp := post(t, bob, ts.URL+"/profile", url.Values{"name": {tt.name}}, false)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(resp.body, tt.says) {
			t.Errorf("name %q: %d, want 422 saying %q:\n%s", tt.name, resp.StatusCode, tt.says, resp.body)
		}
	}
	// Ann may set her own name again, and anyone may clear theirs.
	if resp := post(t, ann, ts.URL+"/profile", url.Values{"name": {"ann lee"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("ann setting her own name again: %d", resp.StatusCode)
	}
	if resp := post(t, ann, ts.URL+"/profile", url.Values{"name": {""}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("clearing a name: %d", resp.StatusCode)
	}
	if resp := post(t, bob, ts.URL+"/profile", url.Values{"name": {"Ann Lee"}}, false); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a name given up is free again: %d\n%s", resp.StatusCode, resp.body)
	}
	if resp := post(t, ts.client(t), ts.URL+"/profile", url.Values{"name": {"x"}}, false); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("profile without a session: %d, want 401", resp.StatusCode)
	}
}

// TestSignInLinksPerClientAddress: one network may ask for 30 links an hour,
// whichever addresses they go to, so a script cannot mail strangers at will.
func TestSignInLinksPerClientAddress(t *testing.T) {
	_, mode := emailSignIn(t)
	ts := newTestServer(t, mode, func(o *handlers.Options) { o.Limits.JoinsPerSecond, o.Limits.JoinBurst = 1000, 1000 })
	c := ts.client(t)
	for i := range 31 {
		resp := post(t, c, ts.URL+"/join", url.Values{"email": {fmt.Sprintf("stranger%d@example.com", i)}}, false)
		switch {
		case i < 30 && resp.StatusCode != http.StatusSeeOther:
			t.Fatalf("link %d: %d\n%s", i+1, resp.StatusCode, resp.body)
		case i == 30 && (resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(resp.body, "from your network")):
			t.Fatalf("link 31 from one network: %d\n%s", resp.StatusCode, resp.body)
		}
	}
}
