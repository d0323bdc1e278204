package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/store"
)

// TestMain lets a test start this binary as the real chatzilla process: a
// child started with CHATZILLA_BE_MAIN=1 runs main instead of the tests, so
// tests can kill it with signals as an operator or Heroku would.
func TestMain(m *testing.M) {
	if os.Getenv("CHATZILLA_BE_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type process struct {
	cmd    *exec.Cmd
	URL    string
	out    *syncBuffer
	exited chan struct{}
}

func startProcess(t *testing.T, env map[string]string) *process {
	t.Helper()
	if testing.Short() {
		t.Skip("starts processes")
	}
	return startCommand(t, exec.Command(os.Args[0]), env)
}

// startCommand is startProcess for a command that ends up running this
// binary (through a shell that sets limits first, say).
func startCommand(t *testing.T, cmd *exec.Cmd, env map[string]string) *process {
	t.Helper()
	cmd.Env = append(os.Environ(), "CHATZILLA_BE_MAIN=1", "PORT=0", "SESSION_SECRET="+strings.Repeat("s", 32))
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &process{cmd: cmd, out: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("process output:\n%s", p.out.String())
		}
	})
	p.URL = fmt.Sprintf("http://127.0.0.1:%d", listeningPort(t, p.out, done, startedAt))
	waitHealthy(t, p.URL, done)
	return p
}

// poster posts messages until stopped and keeps the ones acknowledged.
type poster struct {
	p     *person
	mu    sync.Mutex
	acked []string
}

func (ps *poster) run(stop <-chan struct{}, prefix string) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		text := fmt.Sprintf("%s-%d", prefix, i)
		resp, err := ps.p.c.PostForm(ps.p.base+"/messages", url.Values{"message": {text}})
		if err != nil {
			return // the server is gone
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusSeeOther {
			ps.mu.Lock()
			ps.acked = append(ps.acked, text)
			ps.mu.Unlock()
		}
	}
}

// checkStored fails unless every acknowledged message is in the database,
// each poster's in the order it sent them.
func checkStored(t *testing.T, dbPath string, posters []*poster) int {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	all, err := st.MessagesAfter(context.Background(), 0, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	position := make(map[string]int, len(all))
	for i, m := range all {
		position[m.Content] = i
	}
	total := 0
	for _, ps := range posters {
		last := -1
		for _, text := range ps.acked {
			i, ok := position[text]
			if !ok {
				t.Fatalf("acknowledged message %q is not stored", text)
			}
			if i < last {
				t.Fatalf("acknowledged message %q is stored out of order", text)
			}
			last = i
		}
		total += len(ps.acked)
	}
	return total
}

func TestAcknowledgedMessagesSurviveKill9(t *testing.T) {
	db := t.TempDir() + "/chat.db"
	env := map[string]string{"DATABASE_URL": "sqlite:" + db, "RATE_LIMITS": "off"}
	p := startProcess(t, env)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var posters []*poster
	for i := range 4 {
		ps := &poster{p: join(t, p.URL, fmt.Sprintf("p%d@example.com", i))}
		posters = append(posters, ps)
		wg.Go(func() { ps.run(stop, fmt.Sprint("p", i)) })
	}
	time.Sleep(500 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.exited
	close(stop)
	wg.Wait()

	n := checkStored(t, db, posters)
	if n == 0 {
		t.Fatal("nothing was acknowledged before the kill; the test proves nothing")
	}
	// And the restarted server serves them.
	again := startProcess(t, env)
	s := join(t, again.URL, "reader@example.com").open("?after=0", "")
	s.next(t, n, 5*time.Second)
	t.Logf("%d acknowledged messages all stored after kill -9", n)
}

func TestGracefulShutdownUnderLoad(t *testing.T) {
	db := t.TempDir() + "/chat.db"
	p := startProcess(t, map[string]string{"DATABASE_URL": "sqlite:" + db, "RATE_LIMITS": "off"})

	var streams []*eventStream
	for i := range 20 {
		reader := join(t, p.URL, fmt.Sprintf("r%d@example.com", i))
		for range 10 {
			streams = append(streams, reader.open("", ""))
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var posters []*poster
	for i := range 8 {
		ps := &poster{p: join(t, p.URL, fmt.Sprintf("w%d@example.com", i))}
		posters = append(posters, ps)
		wg.Go(func() { ps.run(stop, fmt.Sprint("w", i)) })
	}
	time.Sleep(time.Second)

	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10s after SIGTERM")
	}
	took := time.Since(start)
	close(stop)
	wg.Wait()
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	for i, s := range streams {
		select {
		case <-s.ended:
		case <-time.After(2 * time.Second):
			t.Fatalf("stream %d still open after the server exited", i)
		}
	}
	n := checkStored(t, db, posters)
	if n == 0 {
		t.Fatal("nothing was acknowledged; the test proves nothing")
	}
	t.Logf("exited %s after SIGTERM with %d streams open; all %d acknowledged posts stored", took.Round(time.Millisecond), len(streams), n)
}
