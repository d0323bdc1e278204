package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/store/storetest"
)

// instance is Chatzilla running in-process through run, as `make run` starts
// it, on a loopback port.
type instance struct {
	URL  string
	stop func() error // graceful stop, as SIGTERM does; returns run's error
	logs *syncBuffer
}

// startChatzilla runs the program with env on a free port and waits until
// /healthz answers. It is stopped at the end of the test.
func startChatzilla(t *testing.T, env map[string]string) *instance {
	t.Helper()
	// Port 0: the system picks a free port, which the start log reports.
	// (Picking one here and passing it on would race with anything else
	// that opens a port in between.)
	vars := map[string]string{"PORT": "0", "SESSION_SECRET": strings.Repeat("s", 32)}
	for k, v := range env {
		vars[k] = v
	}
	if vars["DATABASE_URL"] == "" {
		vars["DATABASE_URL"] = "sqlite:" + storetest.SQLitePath(t)
	}
	inst, done := launch(t, vars)
	inst.URL = fmt.Sprintf("http://127.0.0.1:%d", listeningPort(t, inst.logs, done, startedAt))
	waitHealthy(t, inst.URL, done)
	return inst
}

// launch starts the program with the variables in vars, and does not wait:
// done says when run returns.
func launch(t *testing.T, vars map[string]string) (*instance, <-chan error) {
	t.Helper()
	getenv := func(k string) string { return vars[k] }

	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"chatzilla"}, getenv, logs, logs) }()

	var once sync.Once
	var runErr error
	inst := &instance{logs: logs}
	inst.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(15 * time.Second):
				runErr = fmt.Errorf("run did not return within 15s of shutdown")
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := inst.stop(); err != nil {
			t.Errorf("stopping chatzilla: %v", err)
		}
		if t.Failed() {
			t.Logf("chatzilla logs:\n%s", logs.String())
		}
	})
	return inst, done
}

// startedAt finds the port in the "chatzilla started" log line, and
// listeningAt in the earlier one that says the port is open.
var (
	startedAt   = regexp.MustCompile(`msg="chatzilla started" addr=\S*:(\d+)`)
	listeningAt = regexp.MustCompile(`msg=listening addr=\S*:(\d+)`)
)

// listeningPort waits for the program to say where it listens, in the line
// line finds.
func listeningPort(t *testing.T, logs *syncBuffer, done <-chan error, line *regexp.Regexp) int {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if m := line.FindStringSubmatch(logs.String()); m != nil {
			port, _ := strconv.Atoi(m[1])
			return port
		}
		select {
		case err := <-done:
			t.Fatalf("chatzilla exited while starting: %v\n%s", err, logs.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("chatzilla did not report its address within 15s:\n%s", logs.String())
	return 0
}

func waitHealthy(t *testing.T, base string, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("chatzilla exited while starting: %v", err)
		default:
		}
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("chatzilla at %s not healthy after 15s", base)
}

// syncBuffer collects the program's output from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A restarted process listens before its store is open: pages that
// reconnect meanwhile wait and are answered once it is ready, rather than
// refused (to try again a second later, all at once).
func TestConnectionsWaitWhileStarting(t *testing.T) {
	dbURL, _ := postgresForTest(t, "cz-starting")
	db := newCuttableProxy(t, dbURL)
	release := db.hold() // the database answers only once released
	inst, done := launch(t, map[string]string{"PORT": "0", "SESSION_SECRET": strings.Repeat("s", 32), "DATABASE_URL": db.URL})
	base := fmt.Sprintf("http://127.0.0.1:%d", listeningPort(t, inst.logs, done, listeningAt))

	answered := make(chan error, 1)
	go func() {
		c := &http.Client{Timeout: 15 * time.Second}
		resp, err := c.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("GET /healthz: %s", resp.Status)
			}
		}
		answered <- err
	}()
	select {
	case err := <-answered:
		t.Fatalf("GET /healthz answered before the store was open: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if strings.Contains(inst.logs.String(), "chatzilla started") {
		t.Fatalf("started while the database was held:\n%s", inst.logs.String())
	}
	release()
	select {
	case err := <-answered:
		if err != nil {
			t.Fatalf("the request made while starting: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the request made while starting was not answered within 15 s of the database answering")
	}
}
