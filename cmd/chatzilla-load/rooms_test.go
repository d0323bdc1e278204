package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// roomsFlags make a small rooms run: 4 rooms of 3 members (users 0-11) and
// a big room of 6 (users 12-17), 40 messages across the small rooms and 10
// in the big one over 0.2 s.
var roomsFlags = []string{"-rooms", "4", "-room-size", "3", "-big-room", "6",
	"-room-rate", "200", "-big-rate", "50", "-duration", "200ms", "-senders", "3"}

func startFakeRooms(t *testing.T, f fakeFaults) (*fakeChat, *httptest.Server) {
	fc, h := newFakeChat(f)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return fc, srv
}

// userNo matches the emails of user n of a run.
func userNo(n string) func(string) bool {
	return func(user string) bool { return strings.HasSuffix(user, "-"+n+"@example.com") }
}

// firstFor is a fault that hits the first message it is asked about for a
// matching user, and that message only.
func firstFor(match func(string) bool) func(string, int64) bool {
	var mu sync.Mutex
	var hit int64
	return func(user string, id int64) bool {
		if !match(user) {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		if hit == 0 {
			hit = id
		}
		return id == hit
	}
}

func groupsOf(t *testing.T, r *report) (small, big groupReport) {
	t.Helper()
	if r.Rooms == nil || len(r.Rooms.Groups) != 2 {
		t.Fatalf("no report of the two groups of rooms: %+v", r.Rooms)
	}
	return r.Rooms.Groups[0], r.Rooms.Groups[1]
}

// Each group's streams get their own room's messages, once each, and each
// misbehaviour of the server shows up in its group and fails the run.
func TestRoomsAgainstFakeChat(t *testing.T) {
	tests := []struct {
		name    string
		faults  func() fakeFaults // new for each run: firstFor keeps state
		check   func(small, big groupReport) bool
		failure string // "" for a pass
	}{
		{
			name: "a correct server passes",
			check: func(small, big groupReport) bool {
				return small.Deliveries.Expected == 40*3 && small.Deliveries.Received == 40*3 && small.Deliveries.Streams == 12 &&
					big.Deliveries.Expected == 10*6 && big.Deliveries.Received == 10*6 && big.Deliveries.Streams == 6 &&
					small.Posts.Accepted == 40 && big.Posts.Accepted == 10 && small.Rooms == 4 && big.Members == 6 &&
					small.Deliveries.Latency.Max > 0 && big.Deliveries.Latency.Max > 0
			},
		},
		{
			name:   "streams the server keeps ending resume in their room without loss",
			faults: func() fakeFaults { return fakeFaults{endAfter: 4} },
			check: func(small, big groupReport) bool {
				return small.Deliveries.Received == 40*3 && big.Deliveries.Received == 10*6
			},
		},
		{
			name:    "a message a big room stream never gets is lost in the big room",
			faults:  func() fakeFaults { return fakeFaults{skip: firstFor(userNo("13"))} },
			check:   func(small, big groupReport) bool { return big.Deliveries.Lost == 1 && small.Deliveries.Lost == 0 },
			failure: "1 deliveries lost",
		},
		{
			name:   "a message sent twice to a small room stream is a duplicate there",
			faults: func() fakeFaults { return fakeFaults{repeat: firstFor(userNo("4"))} },
			check: func(small, big groupReport) bool {
				return small.Deliveries.Duplicates == 1 && big.Deliveries.Duplicates == 0 && small.Deliveries.Lost == 0
			},
			failure: "1 deliveries duplicated",
		},
		{
			name:   "another room's message in a stream is misrouted",
			faults: func() fakeFaults { return fakeFaults{leak: firstFor(userNo("4"))} },
			check: func(small, big groupReport) bool {
				return small.Misrouted == 1 && big.Misrouted == 0 && small.Deliveries.Received == 40*3
			},
			failure: "1 deliveries misrouted",
		},
	}
	for _, tt := range tests {
		for _, epoll := range []string{"-epoll=true", "-epoll=false"} {
			t.Run(tt.name+" "+epoll, func(t *testing.T) {
				var f fakeFaults
				if tt.faults != nil {
					f = tt.faults()
				}
				fc, srv := startFakeRooms(t, f)
				r := loadAgainst(t, srv.URL, append(roomsFlags, epoll)...)
				small, big := groupsOf(t, r)
				if !tt.check(small, big) {
					t.Errorf("report does not show it:\nsmall %+v\nbig %+v", small, big)
				}
				if tt.failure == "" && len(r.Failures) > 0 {
					t.Errorf("failures %q, want none", r.Failures)
				}
				if tt.failure != "" && (len(r.Failures) != 1 || !hasFailure(r, tt.failure)) {
					t.Errorf("failures %q, want only %q", r.Failures, tt.failure)
				}
				if s := r.Rooms.Setup; s.Created != 5 || s.Reused != 0 || s.Failed != 0 || s.JoinsFailed != 0 {
					t.Errorf("setup %+v, want 5 rooms created", s)
				}
				if r.Streams.HeldToEnd != 18 || r.Posts.Accepted != 50 {
					t.Errorf("%d streams held, %d posts accepted; want 18 and 50", r.Streams.HeldToEnd, r.Posts.Accepted)
				}
				members := fc.members()
				if len(members) != 5 || members["load-r0001"] != 3 || members["load-r0004"] != 3 || members["load-big"] != 6 {
					t.Errorf("the server's rooms: %v", members)
				}
			})
		}
	}
}

// A second run finds the rooms the first one made (422) and joins them.
func TestRoomsReusedByTheNextRun(t *testing.T) {
	fc, srv := startFakeRooms(t, fakeFaults{})
	for run := range 2 {
		r := loadAgainst(t, srv.URL, append(roomsFlags, "-room-prefix", "lt")...)
		s := r.Rooms.Setup
		if run == 0 && (s.Created != 5 || s.Reused != 0) || run == 1 && (s.Created != 0 || s.Reused != 5) || s.Failed+s.JoinsFailed > 0 {
			t.Errorf("run %d: setup %+v", run, s)
		}
		if len(r.Failures) > 0 || r.Deliveries.Received != 40*3+10*6 {
			t.Errorf("run %d: %+v, failures %q", run, r.Deliveries, r.Failures)
		}
	}
	if m := fc.members(); m["lt-r0002"] != 6 || m["lt-big"] != 12 {
		t.Errorf("members after two runs: %v, want both runs' in each room", m)
	}
}

// A room the server will not make fails the run, and its streams and posts
// say why, without harming the other rooms.
func TestRoomNotSetUp(t *testing.T) {
	_, srv := startFakeRooms(t, fakeFaults{failRoom: func(name string) bool { return name == "load-big" }})
	r := loadAgainst(t, srv.URL, roomsFlags...)
	small, big := groupsOf(t, r)
	if r.Rooms.Setup.Failed != 1 || !strings.Contains(r.Rooms.Setup.FirstError, "500") {
		t.Errorf("setup %+v, want one room failed with the 500", r.Rooms.Setup)
	}
	if r.Streams.FailedToOpen != 6 || r.Streams.FirstError != errNoRoom.Error() {
		t.Errorf("streams %+v, want the big room's 6 failed to open", r.Streams)
	}
	if big.Posts.Failed != 10 || r.Posts.Statuses["room not set up"] != 10 || small.Deliveries.Received != 40*3 || small.Deliveries.Lost != 0 {
		t.Errorf("small %+v\nbig %+v", small, big)
	}
	for _, want := range []string{"1 rooms could not be set up", "6 streams failed to open", "10 posts failed"} {
		if !hasFailure(r, want) {
			t.Errorf("failures %q, want %q", r.Failures, want)
		}
	}
}

func TestPlanRoomPosts(t *testing.T) {
	cfg, err := parseConfig(strings.Fields("chatzilla-load -rooms 7 -room-size 2 -big-room 5 -room-rate 300 -big-rate 40 -duration 2s"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	plan := newRoomPlan(cfg)
	posts := planRoomPosts(cfg, plan)
	if len(posts) != 600+80 {
		t.Fatalf("%d posts, want 680", len(posts))
	}
	counts := make([]int, len(plan.rooms))
	for i, p := range posts {
		if i > 0 && p.at < posts[i-1].at || p.at >= 2*time.Second {
			t.Fatalf("post %d at %s, after %s", i, p.at, posts[i-1].at)
		}
		if int(p.seq) != counts[p.room] {
			t.Fatalf("post %d: room %d seq %d, want %d", i, p.room, p.seq, counts[p.room])
		}
		counts[p.room]++
	}
	small := 0
	for _, n := range counts[:7] {
		small += n
	}
	if small != 600 || counts[7] != 80 {
		t.Errorf("%d posts to small rooms and %d to the big one, want 600 and 80", small, counts[7])
	}
	if plan.roomOf(13) != 6 || plan.roomOf(14) != 7 || plan.roomOf(18) != 7 || plan.rooms[7].name != "load-big" || plan.rooms[0].name != "load-r0001" {
		t.Errorf("plan: %+v", plan.rooms)
	}
}

func TestRoomSlug(t *testing.T) {
	for loc, want := range map[string]string{
		"/rooms/load-r0001":                "load-r0001",
		"http://x:5000/chat/rooms/lt-big":  "lt-big",
		"/rooms/":                          "",
		"/":                                "",
		"/rooms/a/b":                       "",
		"/rooms/%2":                        "",
		"https://example.com/rooms/room-1": "room-1",
	} {
		got, err := roomSlug(loc)
		if got != want || (err != nil) != (want == "") {
			t.Errorf("roomSlug(%q) = %q, %v; want %q", loc, got, err, want)
		}
	}
	if got := slugOfName("Load R0001!"); got != "load-r0001-" {
		t.Errorf("slugOfName: %q", got)
	}
}

// The table and the JSON show each group of rooms.
func TestRoomsReportOutput(t *testing.T) {
	_, srv := startFakeRooms(t, fakeFaults{})
	for _, asJSON := range []bool{false, true} {
		args := append([]string{"chatzilla-load", "-url", srv.URL, "-settle", "0", "-grace", "200ms"}, roomsFlags...)
		if asJSON {
			args = append(args, "-json")
		}
		var stdout bytes.Buffer
		if err := run(context.Background(), args, func(string) string { return "" }, &stdout, io.Discard); err != nil {
			t.Fatal(err)
		}
		out := stdout.String()
		if !asJSON {
			rows := map[string]bool{} // each row, with its columns one space apart
			for line := range strings.Lines(out) {
				rows[strings.Join(strings.Fields(line), " ")] = true
			}
			for _, want := range []string{"small rooms 4 rooms of 3 at 200 messages/s: 40 posts accepted, 0 failed of 40 planned;",
				"big room 1 room of 6 at 50 messages/s: 10 posts accepted, 0 failed of 10 planned;",
				"misrouted 0 (another room's messages received)", "lost 0 (of which 0 arrived after the grace period)",
				"rooms 5 created, 0 there already (joined again), 0 could not be set up; 0 member joins failed",
				"duplicated 0", "result PASS"} {
				found := false
				for row := range rows {
					found = found || strings.HasPrefix(row, want)
				}
				if !found {
					t.Errorf("the table has no %q:\n%s", want, out)
				}
			}
			continue
		}
		var r struct {
			Rooms struct {
				Groups []struct {
					Name       string `json:"name"`
					Misrouted  *int   `json:"misrouted"`
					Deliveries struct {
						Lost    *int `json:"lost"`
						Latency struct {
							P99 float64 `json:"p99"`
						} `json:"latency_ms"`
					} `json:"deliveries"`
				} `json:"groups"`
			} `json:"rooms"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
			t.Fatalf("-json output does not parse: %v\n%s", err, out)
		}
		g := r.Rooms.Groups
		if len(g) != 2 || g[0].Name != "small rooms" || g[1].Name != "big room" || g[1].Misrouted == nil || g[1].Deliveries.Lost == nil || g[1].Deliveries.Latency.P99 <= 0 {
			t.Errorf("JSON groups: %+v\n%s", g, out)
		}
	}
}
