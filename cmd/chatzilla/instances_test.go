package main

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/jackc/pgx/v5"

	"github.com/chatzilla/chatzilla/store/storetest"
)

// startInstances starts n instances on one fresh PostgreSQL schema, all at
// once, as dynos starting together on an empty database do.
func startInstances(t *testing.T, n int, appName string, env map[string]string) (dbURL string, insts []*instance) {
	t.Helper()
	dbURL = storetest.PostgresURL(t) + "&application_name=" + appName
	insts = make([]*instance, n)
	var wg sync.WaitGroup
	for i := range insts {
		wg.Go(func() {
			vars := map[string]string{"DATABASE_URL": dbURL}
			for k, v := range env {
				vars[k] = v
			}
			insts[i] = startChatzilla(t, vars)
		})
	}
	wg.Wait()
	for i, inst := range insts {
		if inst == nil {
			t.Fatalf("instance %d did not start", i)
		}
	}
	return dbURL, insts
}

func TestInstancesShareMessagesLive(t *testing.T) {
	_, insts := startInstances(t, 2, "cz-share", nil)
	a, b := insts[0], insts[1]
	bob := join(t, a.URL, "bob@example.com")
	ann := join(t, b.URL, "ann@example.com")
	onA := bob.open("?after=0", "")
	onB := ann.open("?after=0", "")

	bob.say("hello from A")
	got := onB.next(t, 1, time.Second)
	if got[0].id != 1 || !strings.Contains(got[0].data, "<b><bdi>bob@example.com</bdi></b>: <bdi>hello from A") {
		t.Errorf("B received %+v", got)
	}
	ann.say("hello from B")
	for name, s := range map[string]*eventStream{"A": onA, "B": onB} {
		want := "1 2"
		if name == "B" {
			want = "2"
		}
		got := s.next(t, len(strings.Fields(want)), time.Second)
		if ids(got) != want {
			t.Errorf("stream on %s got %s, want %s", name, ids(got), want)
		}
		s.quiet(t, 100*time.Millisecond)
	}

	if ha, hb := history(t, bob), history(t, ann); ha != hb || !strings.Contains(ha, "hello from B") {
		t.Errorf("history differs:\nA: %s\nB: %s", ha, hb)
	}
}

// TestInstanceListenerCutLosesNothing cuts instance B's listening connection
// again and again while messages are posted to A: B's stream must still get
// every message once, in order.
func TestInstanceListenerCutLosesNothing(t *testing.T) {
	dbURL, insts := startInstances(t, 2, "cz-cut", map[string]string{"RATE_LIMITS": "off"})
	a, b := insts[0], insts[1]
	bob := join(t, a.URL, "bob@example.com")
	// B's stream may be dropped when a catch-up after a cut delivers more
	// than its buffer holds; like a browser, it reconnects and catches up.
	onB, reconnects := join(t, b.URL, "ann@example.com").follow("?after=0")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)

	const total = 150
	posted := make(chan struct{})
	go func() {
		defer close(posted)
		for i := 1; i <= total; i++ {
			bob.say(fmt.Sprintf("m%d", i))
		}
	}()
	cuts := 0
	for done := false; !done; {
		select {
		case <-posted:
			done = true
		case <-time.After(30 * time.Millisecond):
			var n int
			err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE application_name LIKE 'cz-cut-follow-%'`).Scan(&n)
			if err != nil {
				t.Fatal(err)
			}
			cuts += n
		}
	}
	if cuts < 2 {
		t.Fatalf("only %d listener connections were cut; the test proves nothing", cuts)
	}
	got := onB.next(t, total, 15*time.Second)
	for i, e := range got {
		if e.id != int64(i+1) || !strings.Contains(e.data, fmt.Sprintf(">m%d</bdi><", i+1)) {
			t.Fatalf("event %d is %+v, want message %d", i, e, i+1)
		}
	}
	onB.quiet(t, 200*time.Millisecond)
	// The operator can see it happen: each cut, and each return with how
	// many messages it caught up.
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`level=WARN msg="following new messages: connection lost" err=`),
		regexp.MustCompile(`level=INFO msg="following new messages: reconnected" attempt=\d+ caught_up=\d+`),
	} {
		if !want.MatchString(b.logs.String()) {
			t.Errorf("B's log has no line like %s:\n%s", want, b.logs.String())
		}
	}
	t.Logf("%d messages, %d listener cuts, %d stream reconnects, database %s", total, cuts, reconnects(), dbURL)
}

// history is the message list as a person sees it on the page.
func history(t *testing.T, p *person) string {
	t.Helper()
	resp, err := p.c.Get(p.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %d", resp.StatusCode)
	}
	d, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var items []string
	d.Find("#messages li").Each(func(_ int, li *goquery.Selection) {
		id, _ := li.Attr("id")
		items = append(items, id+"="+li.Text())
	})
	return strings.Join(items, " | ")
}
