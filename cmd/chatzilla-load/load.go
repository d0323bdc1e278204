package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// progressEvery is how often a long phase says how far it has got.
	progressEvery = 2 * time.Second
	// drainPoll is how often the run checks whether every stream has
	// everything, to end before the grace period when nothing is missing.
	drainPoll = 20 * time.Millisecond
	// markerPoll is how often a stream-only process looks for the end
	// marker.
	markerPoll = 50 * time.Millisecond
)

// runLoad makes one load run against cfg.URL, the only address it contacts.
// An error means the run could not be made (server down, senders could not
// join); problems the run found are listed in the report's Failures.
func runLoad(ctx context.Context, cfg config, progress io.Writer) (*report, error) {
	started := time.Now()
	client := newHTTPClient(cfg.Concurrency, cfg.Timeout)
	defer client.CloseIdleConnections()
	if err := checkHealth(ctx, client, cfg.URL); err != nil {
		return nil, err
	}
	if err := checkOpenFiles(cfg.Streams + cfg.Concurrency + cfg.Senders); err != nil {
		return nil, err
	}
	rep := &report{Target: cfg.URL.String(), Run: cfg.Run, PhasesMS: map[string]int64{}, Failures: []string{}}
	phase := func(name string, since time.Time) { rep.PhasesMS[name] = time.Since(since).Milliseconds() }
	server := probe{pid: cfg.PID}
	if _, err := server.sample(); err != nil {
		return nil, fmt.Errorf("-pid %d: %w", cfg.PID, err)
	}

	// Each process has its own people, so processes sharing a run do not
	// join as the same person (presence counts people, not streams). In
	// rooms mode the senders post as the rooms' members.
	nUsers := max(cfg.Streams, cfg.Senders)
	if cfg.roomsMode() {
		nUsers = cfg.Streams
	}
	users := make([]*user, nUsers)
	proc := strings.ToLower(rand.Text()[:6])
	for i := range users {
		users[i] = &user{email: fmt.Sprintf("load-%s-%s-%d@example.com", cfg.Run, proc, i)}
	}
	t := time.Now()
	failed, err := joinAll(ctx, client, cfg.URL, users, cfg.Concurrency)
	phase("join", t)
	logf(progress, "joined %d users in %s, %d failed", len(users)-failed, time.Since(t).Round(time.Millisecond), failed)
	var plan *roomPlan
	if cfg.roomsMode() {
		t = time.Now()
		plan = newRoomPlan(cfg)
		rep.Rooms = &roomsReport{Setup: setupRooms(ctx, client, cfg.URL, plan, users, cfg.Concurrency, progress)}
		phase("rooms", t)
	} else {
		for _, u := range users[:cfg.Senders] {
			if u.cookie == "" {
				return nil, fmt.Errorf("a sender could not join: %w", err)
			}
		}
	}

	before, _ := server.sample()
	t = time.Now()
	streams, sh, stopStreams := openStreams(ctx, cfg, users, plan, progress)
	defer stopStreams()
	phase("connect", t)
	open := 0
	for _, s := range streams {
		if s.openedAt.Load() != 0 {
			open++
		}
	}
	logf(progress, "%d of %d streams open in %s", open, len(streams), time.Since(t).Round(time.Millisecond))
	t = time.Now()
	sleepUntil(ctx, t.Add(cfg.Settle))
	phase("settle", t)
	idle, _ := server.sample()
	logf(progress, "ready: %d streams open, run %s", open, cfg.Run)

	// The posting window: streams must be open from its start to be
	// expected to receive every message; the grace period runs from its end.
	t = time.Now()
	var windowStart, windowEnd time.Time
	var accepted bitset
	want := 0 // messages each stream should get
	var roomAccepted []bitset
	var groupPosted [groupCount]groupPosts
	var restarted chan *restartReport
	if cfg.RestartAfter > 0 {
		restarted = make(chan *restartReport, 1)
		go func() {
			if !sleepUntil(ctx, t.Add(cfg.RestartAfter)) {
				restarted <- nil
				return
			}
			restarted <- restartServer(ctx, cfg, sh, client, progress, t)
		}()
	}
	switch {
	case plan != nil:
		windowStart = t
		rep.Posts, roomAccepted, groupPosted, windowEnd = postRooms(ctx, client, cfg, plan, users)
		phase("post", t)
		logf(progress, "posted %d of %d in %s", rep.Posts.Accepted, rep.Posts.Planned, time.Since(t).Round(time.Millisecond))
	case cfg.Senders > 0:
		windowStart = t
		rep.Posts, accepted, windowEnd = post(ctx, client, cfg, users[:cfg.Senders])
		want = accepted.count()
		phase("post", t)
		logf(progress, "posted %d of %d in %s", rep.Posts.Accepted, rep.Posts.Planned, time.Since(t).Round(time.Millisecond))
	default:
		m := waitForMarker(ctx, sh, cfg.Wait)
		if m == nil {
			rep.Failures = append(rep.Failures, fmt.Sprintf("no end marker from run %s within -wait %s", cfg.Run, cfg.Wait))
			windowEnd = time.Now()
		} else {
			windowEnd = time.Unix(0, m.sent)
			want = m.posted - m.failed
		}
	}
	// A restart still under way when posting ends has its messages to
	// deliver: the grace period runs from the new server's readiness.
	var restart *restartReport
	if restarted != nil {
		restart = <-restarted
		if restart != nil && restart.ready.After(windowEnd) {
			windowEnd = restart.ready
		}
	}
	sh.cutoff.Store(windowEnd.Add(cfg.Grace).UnixNano())

	t = time.Now()
	wantOf := func(*stream) int { return want }
	if plan != nil {
		roomWant := make([]int, len(roomAccepted))
		for r, a := range roomAccepted {
			roomWant[r] = a.count()
		}
		wantOf = func(s *stream) int { return roomWant[s.room] }
	}
	drain(ctx, streams, wantOf, windowEnd.Add(cfg.Grace))
	phase("drain", t)
	var end procSample
	if restart == nil {
		end, _ = server.sample()
	} else if restart.NewPID != 0 {
		if s, err := readProc(strconv.Itoa(restart.NewPID)); err == nil {
			restart.NewServer = &s
		}
	}
	if self, err := readProc("self"); err == nil {
		rep.Client = clientReport{CPUSeconds: self.CPUSeconds, RSSKiB: self.RSSKiB}
	}
	stopStreams() // from here on the tallies are no longer written

	tallies := make([]*tally, len(streams))
	for i, s := range streams {
		tallies[i] = &s.tally
	}
	if cfg.Senders == 0 {
		windowStart, accepted = receivedWindow(tallies, sh.end.Load(), rep)
	}
	rep.Streams = streamsReport(streams)
	eligible := make([]bool, len(streams))
	var deliveries, lastRecv int64
	for i, s := range streams {
		eligible[i] = s.openedAt.Load() != 0 && s.openedAt.Load() < windowStart.UnixNano() && !s.dead.Load()
		deliveries += s.tally.received.Load()
		lastRecv = max(lastRecv, s.tally.lastRecv)
	}
	if plan != nil {
		rep.Deliveries.score, rep.Rooms.Groups = scoreRooms(cfg, plan, streams, eligible, roomAccepted, groupPosted, windowStart)
	} else {
		rep.Deliveries.score = scoreStreams(tallies, eligible, accepted)
	}
	rep.Streams.Eligible = rep.Deliveries.Streams
	rep.Deliveries.Latency = latenciesOf(sh.latency.total())
	if span := time.Duration(lastRecv - windowStart.UnixNano()); lastRecv > 0 && span > 0 {
		rep.Deliveries.PerSecond = float64(deliveries) / span.Seconds()
	}
	rep.Server = server.report(before, idle, end, open, deliveries)
	if sh.storm != nil {
		rep.Storm = stormReportOf(streams, sh.storm, restart, time.Now())
	}
	if restart != nil {
		rep.Server = nil
		rep.Notes = append(rep.Notes, "the server was restarted: per-stream memory and CPU per delivery are not reported (see the restart's new_server)")
	}
	if rep.Server != nil && cfg.Senders == 0 {
		rep.Notes = append(rep.Notes, "the server's growth and CPU include every process's streams: divide by all of them, not this process's")
	}
	if server.err != nil {
		rep.Notes = append(rep.Notes, "reading the server's /proc: "+server.err.Error())
	}
	phase("total", started)
	rep.Failures = append(rep.Failures, failures(cfg, rep)...)
	if ctx.Err() != nil {
		rep.Failures = append(rep.Failures, "interrupted")
	}
	return rep, nil
}

// openStreams starts one stream per user, at most -concurrency connecting at
// once, and returns once each has opened or failed to. stop ends them all and
// waits until every stream goroutine has returned.
func openStreams(ctx context.Context, cfg config, users []*user, plan *roomPlan, progress io.Writer) ([]*stream, *streamShared, func()) {
	sh := newStreamShared(cfg)
	if plan != nil {
		sh.rooms, sh.groupLatency = plan, make([]shardedHistogram, groupCount)
	}
	ctx, cancel := context.WithCancel(ctx)
	streams := make([]*stream, cfg.Streams)
	var opened atomic.Int64
	var allOpened, allDone sync.WaitGroup
	allOpened.Add(len(streams))
	for i := range streams {
		s := &stream{index: i, room: -1, cookie: users[i].cookie, shared: sh}
		if plan != nil {
			s.room = plan.roomOf(i)
		}
		streams[i] = s
		allDone.Go(func() {
			s.run(ctx, func() {
				opened.Add(1)
				allOpened.Done()
			})
		})
	}
	waitReporting(&allOpened, progress, func() string {
		return fmt.Sprintf("%d of %d streams connected", opened.Load(), len(streams))
	})
	return streams, sh, func() {
		cancel()
		allDone.Wait()
		for _, p := range sh.pollers {
			p.close()
		}
	}
}

// waitForMarker waits until a stream has seen the poster's end marker.
func waitForMarker(ctx context.Context, sh *streamShared, limit time.Duration) *payload {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if m := sh.end.Load(); m != nil {
			return m
		}
		if !sleepUntil(ctx, time.Now().Add(markerPoll)) {
			break
		}
	}
	return sh.end.Load()
}

// receivedWindow is, for a stream-only process, the posting window's start
// (the earliest send time any stream saw) and the messages to expect: every
// one posted, or, if some posts failed, those that some stream here got.
func receivedWindow(tallies []*tally, m *payload, rep *report) (time.Time, bitset) {
	var first int64
	var seen bitset
	for _, t := range tallies {
		if t.firstSent != 0 && (first == 0 || t.firstSent < first) {
			first = t.firstSent
		}
		seen.union(t.seen)
	}
	if first == 0 {
		first = time.Now().UnixNano()
	}
	if m == nil {
		return time.Unix(0, first), seen
	}
	if m.failed > 0 {
		rep.Notes = append(rep.Notes, "the poster's failed posts are unknown here: expected counts only messages some stream of this process received")
		return time.Unix(0, first), seen
	}
	var all bitset
	for i := range min(m.posted, maxSeq) {
		all.add(i)
	}
	return time.Unix(0, first), all
}

// drain waits until every stream s still held has want(s) messages, or
// until deadline.
func drain(ctx context.Context, streams []*stream, want func(*stream) int, deadline time.Time) {
	for time.Now().Before(deadline) {
		complete := true
		for _, s := range streams {
			if s.openedAt.Load() != 0 && !s.dead.Load() && s.tally.received.Load() < int64(want(s)) {
				complete = false
				break
			}
		}
		if complete || !sleepUntil(ctx, time.Now().Add(drainPoll)) {
			return
		}
	}
}

// waitReporting waits for wg, saying how far it has got every few seconds.
func waitReporting(wg *sync.WaitGroup, progress io.Writer, status func() string) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			logf(progress, "%s", status())
		}
	}
}

func logf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "chatzilla-load: "+format+"\n", args...)
}
