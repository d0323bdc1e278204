package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatzilla/chatzilla/store/storetest"
)

// These tests replay the attacks of issue 12 against the real program and
// check that each is defeated. See flood_test.go for the ones that need a
// process of their own under a low open-file limit.

// TestSpoofedAddressesAreRefused: addresses that would show as someone
// else's, or hide part of themselves, get a 422 and a sentence saying why;
// a look-alike of a real address is the same address.
func TestSpoofedAddressesAreRefused(t *testing.T) {
	app := startChatzilla(t, nil)
	for name, email := range map[string]string{
		"right-to-left override": "\u202emoc.elpmaxe@nimda", // shows as admin@example.com
		"zero-width space":       "ad\u200bmin@example.com",
		"C1 control":             "admin\u0085@example.com",
		"Cyrillic look-alike":    "\u0430dmin@example.com",
		"full-width look-alike":  "\uff41dmin@example.com",
		"bidi isolate":           "admin@example.com\u2066",
	} {
		resp, err := http.PostForm(app.URL+"/join", url.Values{"email": {email}})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), `class="error"`) {
			t.Errorf("%s (%q): %d, want 422 with a message", name, email, resp.StatusCode)
		}
	}
	// The domain is lowercased and a Cyrillic one shows as the xn-- name it is.
	for typed, want := range map[string]string{
		"Bob@EXAMPLE.com":        "Bob@example.com",
		"bob@\u0435xample.com":   "bob@xn--xample-2of.com",
		"rene\u0301@example.com": "ren\u00e9@example.com",
	} {
		join(t, app.URL, typed)
		if !strings.Contains(app.logs.String(), "msg=join sender="+want+" ") {
			t.Errorf("%q joined, but not as %q:\n%s", typed, want, app.logs.String())
		}
	}
}

// TestForwardedForSpoofingIsIgnored: behind one trusted proxy, entries a
// client writes into X-Forwarded-For itself, private-looking or not, do not
// give it a fresh flood-control budget; IPv6 clients share one per /64.
func TestForwardedForSpoofingIsIgnored(t *testing.T) {
	app := startChatzilla(t, map[string]string{"TRUST_PROXY": "true", "JOIN_RATE": "0.001", "JOIN_BURST": "3"})
	joinVia := func(xff string) int {
		req, _ := http.NewRequest(http.MethodPost, app.URL+"/join", strings.NewReader("email=bot%40example.com"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", xff) // as the router passes it on: what the client sent, then the client's address
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tt := range []struct {
		name string
		xff  func(i int) string
	}{
		{"spoofed entries left of a private one", func(i int) string { return fmt.Sprintf("198.51.100.%d, 10.0.0.1, 203.0.113.7", i) }},
		{"IPv6 addresses in one /64", func(i int) string { return fmt.Sprintf("2001:db8:1:2::%x", i+1) }},
	} {
		accepted := 0
		for i := range 30 {
			if joinVia(tt.xff(i)) == http.StatusSeeOther {
				accepted++
			}
		}
		if accepted != 3 {
			t.Errorf("%s: %d of 30 joins accepted, want the burst of 3", tt.name, accepted)
		}
	}
	if s := joinVia("203.0.113.7, 198.51.100.50"); s != http.StatusSeeOther {
		t.Errorf("another client behind the router: %d, want 303", s)
	}
}

// TestAbandonedBodyIsNotAServerError: a client that stops half way through
// its form is no server error in the log.
func TestAbandonedBodyIsNotAServerError(t *testing.T) {
	app := startChatzilla(t, nil)
	bob := join(t, app.URL, "bob@example.com")
	u, _ := url.Parse(app.URL)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /messages HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nmessage=hel",
		u.Host, bob.c.Jar.Cookies(u)[0].String())
	time.Sleep(100 * time.Millisecond)
	conn.Close()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(app.logs.String(), "client left before the answer"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no sign of the abandoned post in the log:\n%s", app.logs.String())
		}
	}
	if strings.Contains(app.logs.String(), "level=ERROR") {
		t.Errorf("an abandoned post was logged as an error:\n%s", app.logs.String())
	}
}

// TestHealthzFailsWhileTheDatabaseRefusesWrites: another process holds
// SQLite's write lock, so reads work and writes cannot: /healthz answers
// 503 until the lock is let go.
func TestHealthzFailsWhileTheDatabaseRefusesWrites(t *testing.T) {
	path := t.TempDir() + "/chat.db"
	app := startChatzilla(t, map[string]string{"DATABASE_URL": "sqlite:" + path})
	health := func() int {
		resp, err := http.Get(app.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitForHealth := func(want int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if got := health(); got == want {
				return
			} else if time.Now().After(deadline) {
				t.Fatalf("/healthz answers %d, want %d", got, want)
			}
		}
	}
	waitForHealth(http.StatusOK)

	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	locker, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close()
	if _, err := locker.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	waitForHealth(http.StatusServiceUnavailable)
	if _, err := locker.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	waitForHealth(http.StatusOK)
	if !strings.Contains(app.logs.String(), "health check: store does not take writes") {
		t.Errorf("the failing writes are not in the log:\n%s", app.logs.String())
	}
}

// clientFrom is an HTTP client whose connections come from source, one of
// the loopback addresses: a client at another address, for per-address
// limits.
func clientFrom(source string) *http.Client {
	jar, _ := cookiejar.New(nil)
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}, Timeout: 5 * time.Second}
	return &http.Client{
		Jar:           jar,
		Transport:     &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 1},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
}

// joinFrom is join from the loopback address source.
func joinFrom(t *testing.T, base, email, source string) *person {
	t.Helper()
	c := clientFrom(source)
	resp, err := c.PostForm(base+"/join", url.Values{"email": {email}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("join %s from %s: %d", email, source, resp.StatusCode)
	}
	return &person{t: t, base: base, email: email, c: c}
}

// tryStream opens a stream and, if it opened, keeps it open until the test
// ends. It returns the response (its body read, if refused).
func (p *person) tryStream(query string) (status int, retryAfter, body string) {
	p.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p.t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/events"+query, nil)
	resp, err := p.c.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	if resp.StatusCode == http.StatusOK {
		// The head is flushed at once; reading the first comment proves
		// the stream is open.
		if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
			p.t.Fatal(err)
		}
		p.t.Cleanup(func() { resp.Body.Close() })
		return resp.StatusCode, "", ""
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
}

// TestHealthzFailsWhilePostgresRefusesWrites: a trigger in the test's own
// schema makes every insert fail while reads work, as a database turned
// read-only or out of disk would: /healthz answers 503, posts are refused
// with a message, and both recover when the trigger goes.
func TestHealthzFailsWhilePostgresRefusesWrites(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	app := startChatzilla(t, map[string]string{"DATABASE_URL": dbURL})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	health := func(want int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			resp, err := http.Get(app.URL + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("/healthz answers %d, want %d", resp.StatusCode, want)
			}
		}
	}
	bob := join(t, app.URL, "bob@example.com")
	health(http.StatusOK)
	for _, sql := range []string{
		`CREATE FUNCTION refuse_writes() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'writes refused by the test'; END $$`,
		`CREATE TRIGGER refuse_writes BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse_writes()`,
	} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	health(http.StatusServiceUnavailable)
	resp, err := bob.c.PostForm(app.URL+"/messages", url.Values{"message": {"lost?"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("post while writes fail: %d, want 503", resp.StatusCode)
	}
	if _, err := admin.Exec(ctx, `DROP TRIGGER refuse_writes ON messages`); err != nil {
		t.Fatal(err)
	}
	health(http.StatusOK)
	bob.say("back")
}
