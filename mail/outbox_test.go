package mail_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/mail"
	"github.com/chatzilla/chatzilla/mail/mailtest"
)

// fast waits are short enough for a test and long enough to tell that the
// outbox waited between attempts.
var fast = mail.WithBackoff(20*time.Millisecond, 20*time.Millisecond, 20*time.Millisecond)

// startOutbox runs an Outbox through server until the test ends.
func startOutbox(t *testing.T, server *mailtest.Server, opts ...mail.OutboxOption) (*mail.Outbox, *logs) {
	t.Helper()
	logs, log := newLogs()
	s, err := mail.Open(server.URL(), from, log)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	o := mail.NewOutbox(s, log, opts...)
	run(t, o)
	return o, logs
}

// run runs o until the test ends, and checks that Run then returns.
func run(t *testing.T, o *mail.Outbox) context.CancelFunc {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		o.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return within 5s of its context ending")
		}
	})
	return cancel
}

// Neither the full address nor the link (the body) may reach the log.
func checkLogsAreDiscreet(t *testing.T, logs *logs) {
	t.Helper()
	logs.mustNotContain(t, signIn.To, link, "token=")
}

func TestOutboxRetriesUntilTheRelayAccepts(t *testing.T) {
	server := mailtest.NewServer(t, mailtest.WithFailures(2))
	o, logs := startOutbox(t, server, fast)
	if !o.Enqueue(signIn) {
		t.Fatal("Enqueue refused the mail")
	}
	got := server.WaitFor(t, signIn.To, 5*time.Second)
	if !strings.Contains(got.Body, link) {
		t.Errorf("body lacks the link:\n%s", got.Body)
	}
	logs.waitFor(t, "INFO mail sent", 1, 5*time.Second)
	if n := logs.count("WARN mail failed: retrying to=a…@example.com"); n != 2 {
		t.Errorf("%d retries logged, want 2:\n%s", n, strings.Join(logs.all(), "\n"))
	}
	if n := logs.count("INFO mail sent to=a…@example.com attempt=3"); n != 1 {
		t.Errorf("want the mail sent at attempt 3:\n%s", strings.Join(logs.all(), "\n"))
	}
	if n := len(server.Messages()); n != 1 {
		t.Errorf("server received %d messages, want 1", n)
	}
	checkLogsAreDiscreet(t, logs)
}

func TestOutboxGivesUpAfterItsAttempts(t *testing.T) {
	server := mailtest.NewServer(t, mailtest.WithFailures(4))
	o, logs := startOutbox(t, server, fast) // 4 attempts
	o.Enqueue(signIn)
	logs.waitFor(t, "ERROR mail given up to=a…@example.com attempts=4", 1, 5*time.Second)
	if n := logs.count("WARN mail failed: retrying"); n != 3 {
		t.Errorf("%d retries logged, want 3:\n%s", n, strings.Join(logs.all(), "\n"))
	}
	// The relay's reason is in the log, so an operator can tell why.
	if n := logs.count("ERROR mail given up to=a…@example.com attempts=4 err="); n != 1 || !strings.Contains(strings.Join(logs.all(), "\n"), "451") {
		t.Errorf("the relay's 451 is not in the log:\n%s", strings.Join(logs.all(), "\n"))
	}
	if n := len(server.Messages()); n != 0 {
		t.Errorf("server received %d messages, want none", n)
	}
	checkLogsAreDiscreet(t, logs)

	// The relay works again: the outbox goes on with the next mail.
	next := signIn
	next.To = "bob@example.com"
	o.Enqueue(next)
	server.WaitFor(t, next.To, 5*time.Second)
}

// A 5xx refusal is final: sending again would be refused again.
func TestOutboxDoesNotRetryARefusal(t *testing.T) {
	server := mailtest.NewServer(t, mailtest.WithRejections(1))
	o, logs := startOutbox(t, server, fast)
	o.Enqueue(signIn)
	logs.waitFor(t, "ERROR mail given up: refused to=a…@example.com attempt=1", 1, 5*time.Second)
	if n := logs.count("WARN mail failed: retrying"); n != 0 {
		t.Errorf("%d retries of a refused mail:\n%s", n, strings.Join(logs.all(), "\n"))
	}
	checkLogsAreDiscreet(t, logs)
}

// One mail waiting to be retried does not hold up the next one: someone
// else's sign-in link goes out while alice's relay says "try again later".
func TestOutboxRetryDoesNotHoldUpOthers(t *testing.T) {
	server := mailtest.NewServer(t, mailtest.WithFailures(1))
	o, _ := startOutbox(t, server, mail.WithBackoff(10*time.Second))
	o.Enqueue(signIn) // refused once, then waits 10s
	time.Sleep(50 * time.Millisecond)
	next := signIn
	next.To = "bob@example.com"
	o.Enqueue(next)
	server.WaitFor(t, next.To, 5*time.Second)
}

// Many handlers enqueue at once; every mail goes out.
func TestOutboxSendsManyMails(t *testing.T) {
	server := mailtest.NewServer(t)
	o, logs := startOutbox(t, server, fast)
	var wg sync.WaitGroup
	for _, name := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		wg.Go(func() {
			if !o.Enqueue(mail.Message{To: name + "@example.com", Subject: "hi", Body: "hello"}) {
				t.Error("Enqueue refused a mail")
			}
		})
	}
	wg.Wait()
	logs.waitFor(t, "INFO mail sent", 8, 10*time.Second)
	if n := len(server.Messages()); n != 8 {
		t.Errorf("server received %d messages, want 8", n)
	}
}

func TestEnqueueOnAFullQueueDrops(t *testing.T) {
	logs, log := newLogs()
	s, err := mail.Open("log:", "", log)
	if err != nil {
		t.Fatal(err)
	}
	o := mail.NewOutbox(s, log, mail.WithQueueSize(2)) // not running: nothing leaves the queue
	for i := range 2 {
		if !o.Enqueue(signIn) {
			t.Fatalf("Enqueue %d of 2 refused", i+1)
		}
	}
	start := time.Now()
	if o.Enqueue(signIn) {
		t.Fatal("Enqueue on a full queue returned true")
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Enqueue on a full queue took %v", d)
	}
	if n := logs.count("ERROR mail dropped: outbox full to=a…@example.com"); n != 1 {
		t.Errorf("want one ERROR for the dropped mail:\n%s", strings.Join(logs.all(), "\n"))
	}
	checkLogsAreDiscreet(t, logs)
}

// A relay that accepts connections and never answers holds every delivery
// until its attempt times out (30 s). When the server shuts down, Run must
// not wait for that: it returns at once and logs every mail as dropped.
func TestOutboxStopsPromptly(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	t.Cleanup(func() { l.Close(); conns.Wait() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Go(func() {
				defer c.Close()
				_, _ = c.Read(make([]byte, 1)) // until the client hangs up
			})
		}
	}()

	logs, log := newLogs()
	s, err := mail.Open("smtp://"+l.Addr().String(), from, log)
	if err != nil {
		t.Fatal(err)
	}
	o := mail.NewOutbox(s, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		o.Run(ctx)
	}()
	const mails = 10 // more than the workers, so some wait in the queue
	for range mails {
		o.Enqueue(signIn)
	}
	time.Sleep(100 * time.Millisecond) // let the workers dial
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return within 2s of its context ending")
	}
	if n := logs.count("WARN mail dropped: shutting down to=a…@example.com"); n != mails {
		t.Errorf("%d mails logged as dropped, want %d:\n%s", n, mails, strings.Join(logs.all(), "\n"))
	}
	if o.Enqueue(signIn) {
		t.Error("Enqueue after Run returned true")
	}
	checkLogsAreDiscreet(t, logs)
}
