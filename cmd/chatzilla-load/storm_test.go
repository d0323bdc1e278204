package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stormAgainst makes a -storm run against rf: 8 streams, 60 messages at
// 150/s (0.4 s of posting). Once the streams are ready, disturb (if any) acts
// on the server while the run posts.
func stormAgainst(t *testing.T, rf *restartingFake, disturb func(), flags ...string) *report {
	t.Helper()
	args := append([]string{"chatzilla-load", "-url", rf.URL, "-settle", "0", "-grace", "500ms", "-storm",
		"-reconnect-delay", "10ms-60ms", "-streams", "8", "-senders", "2", "-messages", "60", "-rate", "150"}, flags...)
	cfg, err := parseConfig(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ready := &signalWriter{word: "ready", seen: make(chan struct{})}
	done := make(chan *report, 1)
	go func() {
		rep, err := runLoad(ctx, cfg, ready)
		if err != nil {
			t.Error(err)
		}
		done <- rep
	}()
	select {
	case <-ready.seen:
	case <-time.After(10 * time.Second):
		t.Fatal("the streams were never ready")
	}
	if disturb != nil {
		disturb()
	}
	rep := <-done
	if rep == nil {
		t.FailNow()
	}
	return rep
}

// Streams the server ends come back with Last-Event-ID after the
// reconnection time, and the report shows what each kind of resume did.
func TestStorm(t *testing.T) {
	restart := func(rf *restartingFake) func() { // down for 150 ms, 100 ms into posting
		return func() {
			time.Sleep(100 * time.Millisecond)
			rf.down()
			time.Sleep(150 * time.Millisecond)
			rf.up(t)
		}
	}
	// Streams end but the server goes on listening and storing posts, so
	// that messages are posted while every stream is away.
	endStreams := func(rf *restartingFake) func() {
		return func() {
			time.Sleep(100 * time.Millisecond)
			rf.fakeChat.mu.Lock()
			close(rf.restart)
			rf.restart = make(chan struct{})
			rf.fakeChat.mu.Unlock()
		}
	}
	tests := []struct {
		name    string
		faults  fakeFaults
		disturb func(*restartingFake) func()
		flags   []string
		check   func(*report) bool
		failure string // "" for a pass
	}{
		{
			// A post sent on a kept-alive connection as the old server
			// closed it gets EOF: its outcome is unknown to the client, so
			// it is counted as failed, and what was accepted must arrive.
			name:    "a restart costs nothing: every stream resumes from its last id",
			disturb: restart,
			flags:   []string{"-allow-failed-posts"},
			check: func(r *report) bool {
				a := r.Posts.Accepted
				return a >= 40 && r.Deliveries.Received == 8*a && r.Storm.StreamsBack == 8 && r.Storm.NotBack == 0 &&
					r.Storm.ConnectErrors["refused"] > 0 && r.Storm.LatencyFrom == "disconnect" && r.Storm.Calmed
			},
		},
		{
			name:    "a server that ignores Last-Event-ID loses what was posted while the streams were away",
			faults:  fakeFaults{ignoreResume: true},
			disturb: endStreams,
			flags:   []string{"-reconnect-delay", "150ms-200ms"},
			check:   func(r *report) bool { return r.Deliveries.Lost >= 8 && r.Storm.StreamsBack == 8 },
			failure: "deliveries lost",
		},
		{
			name:    "a server that replays from too early sends duplicates",
			faults:  fakeFaults{replayEarly: 3},
			disturb: endStreams,
			check:   func(r *report) bool { return r.Deliveries.Duplicates == 8*3 && r.Deliveries.Lost == 0 },
			failure: "8*3 deliveries duplicated",
		},
		{
			name:    "refused resumes are counted by status and tried again after the reconnection time",
			faults:  fakeFaults{refuseResumes: 5},
			disturb: endStreams,
			check: func(r *report) bool {
				return r.Storm.ReplayFailures == 5 && r.Storm.ReplayStatuses["503"] == 5 && r.Deliveries.Lost == 0 && r.Storm.StreamsBack == 8
			},
		},
		{
			name:    "the server's retry: field replaces the client's delay",
			faults:  fakeFaults{retryMS: 20},
			disturb: endStreams,
			flags:   []string{"-reconnect-delay", "3s"},
			check: func(r *report) bool {
				return r.Storm.ServerRetry == 8 && r.Storm.StreamsBack == 8 && r.Storm.SinceDisconnect.Max < 1000
			},
		},
		{
			name: "no disturbance, no storm",
			check: func(r *report) bool {
				return r.Storm.Reconnects == 0 && r.Storm.DurationMS == 0 && r.Deliveries.Received == 8*60
			},
		},
	}
	for _, tt := range tests {
		for _, epoll := range []string{"-epoll=true", "-epoll=false"} {
			t.Run(tt.name+" "+epoll, func(t *testing.T) {
				rf := startRestartingFake(t, tt.faults)
				var disturb func()
				if tt.disturb != nil {
					disturb = tt.disturb(rf)
				}
				r := stormAgainst(t, rf, disturb, append([]string{epoll}, tt.flags...)...)
				if !tt.check(r) {
					t.Errorf("report does not show it: %+v\n%+v\nposts %+v", r.Deliveries, *r.Storm, r.Posts)
				}
				rf.fakeChat.mu.Lock()
				if len(rf.wrongResumes) > 0 || (tt.disturb != nil && rf.resumes < 8) {
					t.Errorf("%d resumes, %d without the last id sent: %q", rf.resumes, len(rf.wrongResumes), rf.wrongResumes)
				}
				rf.fakeChat.mu.Unlock()
				failure := strings.Replace(tt.failure, "8*3", "24", 1)
				if failure == "" && len(r.Failures) > 0 {
					t.Errorf("failures %q, want none", r.Failures)
				}
				if failure != "" && (len(r.Failures) != 1 || !hasFailure(r, failure)) {
					t.Errorf("failures %q, want only %q", r.Failures, failure)
				}
			})
		}
	}
}

// -restart-after sends SIGTERM to the server's process, runs -restart-cmd
// once that process is gone and measures reconnects from the moment the new
// one answers /healthz. The "server" processes are shells standing in for
// it; the fake chat goes down when the old one is told to stop and comes
// back once the command has run.
func TestStormRestartsTheServer(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	term, started := filepath.Join(dir, "term"), filepath.Join(dir, "started")
	// Like Chatzilla on SIGTERM: streams end at once, the process a little later.
	old := exec.Command("sh", "-c", `trap 'touch "$0"; sleep 0.2; kill $!; exit 0' TERM; sleep 60 & wait`, term)
	if err := old.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = old.Process.Kill() })
	go func() { _ = old.Wait() }() // reaps it
	rf := startRestartingFake(t, fakeFaults{})
	go func() {
		if waitForFile(term) {
			rf.down()
		}
		if waitForFile(started) {
			time.Sleep(50 * time.Millisecond) // the new process starting up
			rf.up(t)
		}
	}()
	r := stormAgainst(t, rf, nil, "-allow-failed-posts", "-pid", strconv.Itoa(old.Process.Pid), "-restart-after", "100ms",
		"-restart-cmd", `touch "`+started+`"; exec sleep 60`)
	rs := r.Storm.Restart
	if rs == nil {
		t.Fatalf("no restart in the report: %+v", *r.Storm)
	}
	if rs.NewPID != 0 {
		t.Cleanup(func() { _ = syscall.Kill(rs.NewPID, syscall.SIGKILL) })
	}
	if rs.Error != "" || rs.NewPID == 0 || rs.ReadyMS < rs.StoppedMS+40 {
		t.Errorf("restart %+v: want it ready 50 ms after the command, which runs once the old server stopped listening", *rs)
	}
	s := r.Storm
	if s.LatencyFrom != "readiness" || s.StreamsBack != 8 || s.Latency.Max >= s.SinceDisconnect.Max || r.Server != nil {
		t.Errorf("storm %+v", *s)
	}
	// A post on a connection opened to the old server after SIGTERM can
	// still be cut off as it closes; what was accepted must arrive.
	if len(r.Failures) > 0 || r.Posts.Accepted < 40 || r.Deliveries.Received != 8*r.Posts.Accepted {
		t.Errorf("failures %q, %+v", r.Failures, r.Deliveries)
	}
	var table strings.Builder
	if err := r.writeTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"new pid " + strconv.Itoa(rs.NewPID), "8 streams reconnected", "from readiness (", "storm delivery latency"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("the table does not say %q:\n%s", want, table.String())
		}
	}
	if strings.Contains(table.String(), "%!") {
		t.Errorf("a row is misformatted:\n%s", table.String())
	}
}

func waitForFile(name string) bool {
	for range 500 {
		if _, err := os.Stat(name); err == nil {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// Readiness is the first stream back when that comes before /healthz
// answers: a poll stuck behind the crowd must not make every reconnect
// look quick.
func TestStormReadinessIsTheFirstStreamBack(t *testing.T) {
	term := time.Now()
	at := func(d time.Duration) int64 { return term.Add(d).UnixNano() }
	back := func(down, up time.Duration) *stream {
		s := &stream{}
		s.resuming.reconnects = []reconnect{{down: at(down), up: at(up)}}
		return s
	}
	streams := []*stream{
		back(100*time.Millisecond, 500*time.Millisecond), back(200*time.Millisecond, 3*time.Second),
		// Neither is back from the new server: one came back to the old
		// one before it stopped listening, the other ended before SIGTERM.
		back(10*time.Millisecond, 150*time.Millisecond), back(-time.Second, 400*time.Millisecond),
	}
	rs := &restartReport{term: term, stopped: term.Add(200 * time.Millisecond), ready: term.Add(4 * time.Second)}
	r := stormReportOf(streams, newStorm(0, 0), rs, term.Add(5*time.Second))
	if r.LatencyFrom != "readiness" || r.ReadinessBy != "the first stream back" || r.ReadinessMS != 500 {
		t.Errorf("readiness %q by %q at %v ms, want the first stream back at 500 ms", r.LatencyFrom, r.ReadinessBy, r.ReadinessMS)
	}
	// The second stream ended before that, and came back 2.5 s after it.
	if r.Latency.Max < 2400 || r.Latency.Max > 2600 {
		t.Errorf("reconnect latency %+v, want a max of 2.5 s from the first stream back", r.Latency)
	}
	// The three that ended after SIGTERM ended within 200 ms of it, and the
	// last came back 3 s after it.
	if r.EndedAfterTerm.Max < 190 || r.EndedAfterTerm.Max > 210 || r.BackAfterTerm.Max < 2900 || r.BackAfterTerm.Max > 3100 {
		t.Errorf("ended %+v and back %+v after SIGTERM, want at most 200 ms and 3 s", r.EndedAfterTerm, r.BackAfterTerm)
	}

	// With /healthz first, it is /healthz.
	rs.ready = term.Add(300 * time.Millisecond)
	r = stormReportOf(streams, newStorm(0, 0), rs, term.Add(5*time.Second))
	if r.ReadinessBy != "/healthz" || r.ReadinessMS != 300 {
		t.Errorf("readiness by %q at %v ms, want /healthz at 300 ms", r.ReadinessBy, r.ReadinessMS)
	}
}

// A stream's reconnection time counts from when it ended, as a browser's
// timer does, not from when its goroutine got to run again: in a storm
// that is late, and the reconnect would come later than a browser's.
func TestStormReconnectTimeCountsFromTheEnd(t *testing.T) {
	t.Parallel()
	srv := startFakeChat(t, fakeFaults{})
	cfg, err := parseConfig([]string{"chatzilla-load", "-url", srv.URL, "-storm", "-reconnect-delay", "2s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s := &stream{room: -1, cookie: "chatzilla=ann@example.com", shared: newStreamShared(cfg)}
	// It ended 3 s ago, and its goroutine comes to reconnect only now.
	s.endedAt = time.Now().Add(-3 * time.Second)
	started := time.Now()
	c := s.resume(t.Context())
	if c == nil {
		t.Fatal("the stream did not come back")
	}
	c.close()
	if waited := time.Since(started); waited >= time.Second {
		t.Errorf("reconnected %v after its goroutine ran; its 2 s were over 1 s before", waited.Round(time.Millisecond))
	}
	if rc := s.resuming.reconnects; len(rc) != 1 || rc[0].down != s.endedAt.UnixNano() {
		t.Errorf("reconnects %+v, want one down at the end (%d)", rc, s.endedAt.UnixNano())
	}
	if began := s.shared.storm.began.Load(); began != s.endedAt.UnixNano() {
		t.Errorf("the storm began at %d, want at the end (%d)", began, s.endedAt.UnixNano())
	}
}
