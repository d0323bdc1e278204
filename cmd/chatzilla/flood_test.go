package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/store"
)

// floodFiles is the open-file limit the flood tests run the server under:
// 256 connections once the server's own descriptors are set aside, so a
// single test client can fill them.
const floodFiles = 512

// startWithFileLimit runs the program as a process of its own whose
// open-file limit (soft and hard) is files, as `ulimit -n` sets it.
func startWithFileLimit(t *testing.T, files int, env map[string]string) *process {
	t.Helper()
	if testing.Short() {
		t.Skip("starts processes")
	}
	cmd := exec.Command("/bin/sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$0"`, files), os.Args[0])
	return startCommand(t, cmd, env)
}

// startedWith reads one of the limits the program says it started with.
func startedWith(t *testing.T, p *process, name string) int {
	t.Helper()
	m := regexp.MustCompile(`msg="chatzilla started".* ` + name + `=(\d+)`).FindStringSubmatch(p.out.String())
	if m == nil {
		t.Fatalf("no %s in the start log:\n%s", name, p.out.String())
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestStreamFloodLeavesOthersServed: one address joins again and again for
// fresh sessions and opens every stream it can. It is stopped at its share;
// more addresses doing the same fill the streams, but not the connections:
// the page, posting and the health check are still served to everyone.
func TestStreamFloodLeavesOthersServed(t *testing.T) {
	p := startWithFileLimit(t, floodFiles, map[string]string{
		"DATABASE_URL": "sqlite:" + t.TempDir() + "/chat.db",
		// The attacker's joins are not what is tested: let them through.
		"JOIN_RATE": "1000", "JOIN_BURST": "1000",
	})
	conns, streams, perAddress := startedWith(t, p, "max_connections"), startedWith(t, p, "max_streams"), startedWith(t, p, "streams_per_address")
	if streams > conns-64 || perAddress > streams/2 {
		t.Fatalf("%d streams of %d connections, %d per address: no headroom", streams, conns, perAddress)
	}

	// flood opens streams from source, ten per session, until refused
	// with a 503 (a 429 only says to slow down: it waits and goes on).
	sessions := 0
	flood := func(source string) (opened int, body, retryAfter string) {
		for {
			sessions++
			bot := joinFrom(t, p.URL, fmt.Sprintf("bot%d@example.com", sessions), source)
			for range 10 {
				for {
					status, retry, b := bot.tryStream("")
					switch status {
					case http.StatusOK:
						opened++
					case http.StatusTooManyRequests:
						time.Sleep(50 * time.Millisecond)
						continue
					case http.StatusServiceUnavailable:
						return opened, b, retry
					default:
						t.Fatalf("stream %d from %s: %d %s", opened+1, source, status, b)
					}
					break
				}
			}
		}
	}
	opened, body, retry := flood("127.0.0.1")
	if opened != perAddress || !strings.Contains(body, "from your network") || retry == "" {
		t.Errorf("one address opened %d streams, then got %q (Retry-After %q); want %d, then a 503 about its network", opened, body, retry, perAddress)
	}
	total := opened
	for _, source := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		n, body, _ := flood(source)
		total += n
		if strings.Contains(body, "full") {
			break
		}
	}
	if total != streams {
		t.Fatalf("%d streams open, want all %d taken", total, streams)
	}

	// Someone else: every stream is taken, everything else is served.
	ann := joinFrom(t, p.URL, "ann@example.com", "127.0.0.9")
	if status, retry, _ := ann.tryStream(""); status != http.StatusServiceUnavailable || retry == "" {
		t.Errorf("a stream once all are taken: %d, Retry-After %q; want 503 with Retry-After", status, retry)
	}
	for _, req := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/", http.StatusOK},
		{http.MethodPost, "/messages", http.StatusSeeOther},
		{http.MethodGet, "/healthz", http.StatusOK},
	} {
		var resp *http.Response
		var err error
		if req.method == http.MethodGet {
			resp, err = ann.c.Get(p.URL + req.path)
		} else {
			resp, err = ann.c.PostForm(p.URL+req.path, map[string][]string{"message": {"still here"}})
		}
		if err != nil {
			t.Fatalf("%s %s: %v", req.method, req.path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != req.want {
			t.Errorf("%s %s during the flood: %d, want %d", req.method, req.path, resp.StatusCode, req.want)
		}
	}
	t.Logf("%d connections, %d streams (%d per address): %d streams opened by %d sessions; the rest served", conns, streams, perAddress, total, sessions)
}

// idleConns opens keep-alive connections from source, each making one
// request and then idling, until the server refuses one (or max). It
// returns them and the refusal's first line.
func idleConns(t *testing.T, base, source string, max int) (held []net.Conn, refusal string) {
	t.Helper()
	addr := strings.TrimPrefix(base, "http://")
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}, Timeout: 5 * time.Second}
	for len(held) < max {
		c, err := dialer.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("connection %d from %s: %v", len(held)+1, source, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			c.Close()
			return held, resp.Status + ", Retry-After " + resp.Header.Get("Retry-After")
		}
		held = append(held, c)
	}
	return held, ""
}

// TestIdleConnectionFloodLeavesOthersServed: one address opens idle
// keep-alive connections until refused, at its share; another client is
// served. When several addresses take every connection, idle ones are
// closed soon and a newcomer gets in.
func TestIdleConnectionFloodLeavesOthersServed(t *testing.T) {
	p := startWithFileLimit(t, floodFiles, map[string]string{"DATABASE_URL": "sqlite:" + t.TempDir() + "/chat.db"})
	conns, perAddress := startedWith(t, p, "max_connections"), startedWith(t, p, "connections_per_address")

	held, refusal := idleConns(t, p.URL, "127.0.0.1", 2*conns)
	if len(held) != perAddress || !strings.HasPrefix(refusal, "503") || strings.HasSuffix(refusal, "Retry-After ") {
		t.Errorf("one address held %d idle connections, then %q; want %d, then a 503 with Retry-After", len(held), refusal, perAddress)
	}
	other := &http.Client{Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext}, Timeout: 5 * time.Second}
	if resp, err := other.Get(p.URL + "/"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("another client during the flood: %v %v", resp, err)
	}

	// Two more addresses take what is left.
	more, _ := idleConns(t, p.URL, "127.0.0.3", 2*conns)
	rest, _ := idleConns(t, p.URL, "127.0.0.4", 2*conns)
	if taken := len(held) + len(more) + len(rest); taken < conns-1 {
		t.Fatalf("only %d of %d connections taken; the test proves nothing", taken, conns)
	}
	start := time.Now()
	newcomer := &http.Client{Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.5")}}).DialContext}, Timeout: 5 * time.Second}
	for {
		resp, err := newcomer.Get(p.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Since(start) > 15*time.Second {
			t.Fatalf("a newcomer is still refused %s after every connection was taken by idle ones", time.Since(start).Round(time.Second))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%d connections, %d per address; a newcomer got in %s after the idle flood filled them", conns, perAddress, time.Since(start).Round(100*time.Millisecond))
}

// TestReplayFloodIsBounded: a session that opens stream after stream from
// the start of a long history (each one a replay) is slowed to its rate,
// every stream it gets replays nothing but a reload notice, and the
// server's memory stays small. Honest pages reconnecting all at once, as
// after a restart, all get through.
func TestReplayFloodIsBounded(t *testing.T) {
	const history = 5000
	path := t.TempDir() + "/chat.db"
	seed(t, path, history)
	p := startProcess(t, map[string]string{"DATABASE_URL": "sqlite:" + path, "JOIN_RATE": "1000", "JOIN_BURST": "1000"})

	attacker := join(t, p.URL, "replay@example.com")
	const flood = 5 * time.Second
	var opened, refused, replayed, reloads atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), flood)
	defer cancel()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/events?after=0", nil)
				resp, err := attacker.c.Do(req)
				if err != nil {
					return
				}
				if resp.StatusCode != http.StatusOK {
					refused.Add(1)
					resp.Body.Close()
					continue
				}
				opened.Add(1)
				r := bufio.NewReader(resp.Body)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						break
					}
					if strings.HasPrefix(line, "id: ") {
						replayed.Add(1)
					}
					if strings.HasPrefix(line, "event: chatzilla-reload") {
						reloads.Add(1)
						break
					}
				}
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	// A burst of 20, then 2 a second.
	if max := int64(20 + 2*flood/time.Second + 2); opened.Load() > max || refused.Load() == 0 {
		t.Errorf("one session opened %d streams in %s (%d refused), want at most %d", opened.Load(), flood, refused.Load(), max)
	}
	if replayed.Load() != 0 || reloads.Load() != opened.Load() {
		t.Errorf("%d streams replayed %d messages and sent %d reload notices; want none replayed, a notice each", opened.Load(), replayed.Load(), reloads.Load())
	}

	// A page less far behind is replayed what it missed.
	s := join(t, p.URL, "reader@example.com").open("?after=4000", "")
	s.next(t, 1000, 10*time.Second)
	s.quiet(t, 200*time.Millisecond)

	// Honest pages reconnecting together: 100 people behind one address,
	// two tabs each.
	var storm sync.WaitGroup
	var stormRefused atomic.Int64
	for i := range 100 {
		reader := join(t, p.URL, fmt.Sprintf("office%d@example.com", i))
		for range 2 {
			storm.Go(func() {
				req, _ := http.NewRequest(http.MethodGet, p.URL+"/events", nil)
				req.Header.Set("Last-Event-ID", strconv.Itoa(history-10))
				ctx, cancel := context.WithCancel(context.Background())
				t.Cleanup(cancel)
				resp, err := reader.c.Do(req.WithContext(ctx))
				if err != nil || resp.StatusCode != http.StatusOK {
					stormRefused.Add(1)
				}
				if resp != nil {
					t.Cleanup(func() { resp.Body.Close() })
				}
			})
		}
	}
	storm.Wait()
	if n := stormRefused.Load(); n != 0 {
		t.Errorf("%d of 200 reconnecting streams were refused", n)
	}

	peak := peakRSS(t, p.cmd.Process.Pid)
	// Without the race detector the server peaks near 30 MiB; with it,
	// every allocation costs several times as much.
	if limit := int64(100<<20) * map[bool]int64{false: 1, true: 5}[raceEnabled]; peak > limit {
		t.Errorf("server peak RSS %d MiB", peak>>20)
	}
	t.Logf("replay flood: %d streams opened in %s, %d refused, %d messages replayed; 200 reconnecting tabs all served; server peak RSS %d MiB",
		opened.Load(), flood, refused.Load(), replayed.Load(), peak>>20)
}

// seed stores n messages in the SQLite database at path.
func seed(t *testing.T, path string, n int) {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var wg sync.WaitGroup
	const writers = 50
	for w := range writers {
		wg.Go(func() {
			for i := range n / writers {
				if _, err := st.AddMessageOnce(context.Background(), "ann@example.com", fmt.Sprintf("history %d-%d", w, i), ""); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// peakRSS is a process's peak resident memory, from /proc.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmHWM in /proc/%d/status", pid)
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}
