package main

// Rooms mode (-rooms, -big-room) measures issue 16's "fan-out cost follows
// the room": streams spread over many rooms of a few members and one big
// room, messages posted to all of them at once, and every stream checked
// for its own room's messages and nothing else. Each room's members are
// users of their own: member k of the run holds stream k, in its room only.
//
// A room message names its room and its place in the room's own sequence
// (see payload.go), so a stream's tally is as small as its room's share of
// the posts, and a message of another room is caught where it arrives.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The two groups of rooms a run reports on.
const (
	groupSmall = iota
	groupBig
	groupCount
)

var groupNames = [groupCount]string{"small rooms", "big room"}

// roomPlan is a rooms run's rooms. Room i < small has the members (users
// and streams) i*size … (i+1)*size-1; the big room, if any, is room small
// and has the last big members. A room's members are contiguous, so its
// streams are a slice of the run's.
type roomPlan struct {
	small, size, big int
	rooms            []room
}

// room is one room of the plan. setupRooms fills in everything after
// first and n, before the streams start; from then on it is only read.
type room struct {
	name       string
	first, n   int    // its members: users and streams first … first+n-1
	slug       string // "" if it could not be made or found
	creator    int    // the user who made it, already a member; -1 if none did
	streamPath string // request path of its stream
	postURL    *url.URL
}

func newRoomPlan(cfg config) *roomPlan {
	p := &roomPlan{small: cfg.Rooms, size: cfg.RoomSize, big: cfg.BigRoom}
	for i := range cfg.Rooms {
		p.rooms = append(p.rooms, room{name: fmt.Sprintf("%s-r%04d", cfg.RoomPrefix, i+1), first: i * cfg.RoomSize, n: cfg.RoomSize, creator: -1})
	}
	if cfg.BigRoom > 0 {
		p.rooms = append(p.rooms, room{name: cfg.RoomPrefix + "-big", first: cfg.Rooms * cfg.RoomSize, n: cfg.BigRoom, creator: -1})
	}
	return p
}

// roomOf is the room of member (and stream) i.
func (p *roomPlan) roomOf(i int) int {
	if i < p.small*p.size {
		return i / p.size
	}
	return p.small
}

func (p *roomPlan) groupOf(room int) int {
	if room < p.small {
		return groupSmall
	}
	return groupBig
}

// poster is the member who posts message seq of room r: each in turn, so
// that no one person posts fast enough to meet flood control's limits.
func (p *roomPlan) poster(users []*user, r, seq int) string {
	rm := &p.rooms[r]
	for k := range rm.n {
		if u := users[rm.first+(seq+k)%rm.n]; u.cookie != "" {
			return u.cookie
		}
	}
	return ""
}

// roomSetup is what making the rooms and joining their members took.
type roomSetup struct {
	Created     int    `json:"created"`
	Reused      int    `json:"reused"`              // there already (an earlier run's): joined again
	Failed      int    `json:"failed"`              // neither made nor found: their streams do not open
	JoinsFailed int    `json:"member_joins_failed"` // members who could not join their room
	FirstError  string `json:"first_error,omitempty"`
}

// setupRooms makes every room of the plan, as its first joined member, and
// then has every other member join it, -concurrency requests at a time in
// each phase. A room whose name is taken (422) is an earlier run's: it is
// found at its slug and joined by all its members.
func setupRooms(ctx context.Context, c *http.Client, base *url.URL, plan *roomPlan, users []*user, concurrency int, progress io.Writer) roomSetup {
	started := time.Now()
	var mu sync.Mutex
	var setup roomSetup
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if setup.FirstError == "" {
			setup.FirstError = err.Error()
		}
	}
	var created, reused, failed atomic.Int64
	eachBounded(ctx, len(plan.rooms), concurrency, func(i int) {
		rm := &plan.rooms[i]
		creator := -1
		for k := rm.first; k < rm.first+rm.n; k++ {
			if users[k].cookie != "" {
				creator = k
				break
			}
		}
		if creator < 0 {
			failed.Add(1)
			fail(fmt.Errorf("room %s: none of its members could join the chat", rm.name))
			return
		}
		slug, isNew, err := createRoom(ctx, c, base, users[creator].cookie, rm.name)
		if err != nil {
			failed.Add(1)
			fail(err)
			return
		}
		if isNew {
			rm.creator = creator
			created.Add(1)
		} else {
			reused.Add(1)
		}
		rm.slug = slug
		rm.streamPath = "/" + strings.TrimPrefix(base.JoinPath("rooms", slug, "events").EscapedPath(), "/")
		rm.postURL = base.JoinPath("rooms", slug, "messages")
	})
	setup.Created, setup.Reused, setup.Failed = int(created.Load()), int(reused.Load()), int(failed.Load())
	logf(progress, "%d rooms created, %d there already, %d failed in %s", setup.Created, setup.Reused, setup.Failed, time.Since(started).Round(time.Millisecond))

	var joinsFailed atomic.Int64
	eachBounded(ctx, len(users), concurrency, func(k int) {
		rm := &plan.rooms[plan.roomOf(k)]
		if rm.slug == "" || k == rm.creator || users[k].cookie == "" {
			return // its stream fails to open, and says why
		}
		if err := joinRoom(ctx, c, base, users[k].cookie, rm.slug); err != nil {
			joinsFailed.Add(1)
			fail(err)
		}
	})
	setup.JoinsFailed = int(joinsFailed.Load())
	logf(progress, "room members joined, %d failed; rooms set up in %s", setup.JoinsFailed, time.Since(started).Round(time.Millisecond))
	return setup
}

// eachBounded calls f(0) … f(n-1), at most limit at once, and returns once
// every call has. Once ctx ends it starts no more.
func eachBounded(ctx context.Context, n, limit int, f func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, limit)
	defer wg.Wait()
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			f(i)
		})
	}
}

// createRoom makes the open room name and returns its slug, from the 303's
// Location. If the name is taken (422), the room is looked up at the slug
// the server would give the name, and isNew is false: the caller is not a
// member yet.
func createRoom(ctx context.Context, c *http.Client, base *url.URL, cookie, name string) (slug string, isNew bool, err error) {
	resp, err := postForm(ctx, c, base.JoinPath("rooms"), cookie, url.Values{"name": {name}, "kind": {"open"}}, false)
	if err != nil {
		return "", false, fmt.Errorf("POST /rooms %s: %w", name, err)
	}
	switch resp.StatusCode {
	case http.StatusSeeOther:
		slug, err := roomSlug(resp.Header.Get("Location"))
		if err != nil {
			return "", false, fmt.Errorf("POST /rooms %s: %w", name, err)
		}
		return slug, true, nil
	case http.StatusUnprocessableEntity:
		slug := slugOfName(name)
		if err := getOK(ctx, c, base.JoinPath("rooms", slug), cookie); err != nil {
			return "", false, fmt.Errorf("POST /rooms %s: 422 (taken?) and %w", name, err)
		}
		return slug, false, nil
	}
	return "", false, fmt.Errorf("POST /rooms %s: %s", name, resp.Status)
}

// roomSlug reads the slug from a room's address, /rooms/{slug}.
func roomSlug(location string) (string, error) {
	if u, err := url.Parse(location); err == nil {
		if i := strings.LastIndex(u.Path, "/rooms/"); i >= 0 {
			if slug := u.Path[i+len("/rooms/"):]; slug != "" && !strings.Contains(slug, "/") {
				return slug, nil
			}
		}
	}
	return "", fmt.Errorf("redirected to %q, not to a room", location)
}

// slugOfName is the slug Chatzilla gives a room name: lower case, with
// every character but a letter or digit turned into '-'. The run's names
// are their own slugs; this only matters if the server's rule changes.
func slugOfName(name string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(name))
}

func joinRoom(ctx context.Context, c *http.Client, base *url.URL, cookie, slug string) error {
	resp, err := postForm(ctx, c, base.JoinPath("rooms", slug, "join"), cookie, nil, false)
	if err != nil {
		return fmt.Errorf("POST /rooms/%s/join: %w", slug, err)
	}
	if resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("POST /rooms/%s/join: %s", slug, resp.Status)
	}
	return nil
}

// getOK fetches a page and checks that it is there.
func getOK(ctx context.Context, c *http.Client, to *url.URL, cookie string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, to.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Cookie", cookie)
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", to.Path, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", to.Path, resp.Status)
	}
	return nil
}

// roomPost is one planned post of a rooms run. The sender that makes it
// sets tried and ok; they are read once every sender has returned.
type roomPost struct {
	at        time.Duration // from the start of posting
	room, seq int32         // seq: its place in its room's sequence
	tried, ok bool
}

// planRoomPosts lays out a rooms run's posts in time order: the small
// rooms' at -room-rate, each to a random small room, and the big room's at
// -big-rate, interleaved.
func planRoomPosts(cfg config, plan *roomPlan) []roomPost {
	nSmall, nBig := cfg.roomPosts()
	next := make([]int32, len(plan.rooms)) // each room's next seq
	at := func(k int, rate float64) time.Duration {
		return time.Duration(float64(k) / rate * float64(time.Second))
	}
	posts := make([]roomPost, 0, nSmall+nBig)
	for s, b := 0, 0; s < nSmall || b < nBig; {
		var r int
		var t time.Duration
		if b < nBig && (s == nSmall || at(b, cfg.BigRate) < at(s, cfg.RoomRate)) {
			r, t = plan.small, at(b, cfg.BigRate)
			b++
		} else {
			r, t = rand.IntN(plan.small), at(s, cfg.RoomRate)
			s++
		}
		posts = append(posts, roomPost{at: t, room: int32(r), seq: next[r]})
		next[r]++
	}
	return posts
}

// groupPosts is one group's share of the posts.
type groupPosts struct {
	Planned   int     `json:"planned"`
	Attempted int     `json:"attempted"`
	Accepted  int     `json:"accepted"`
	Failed    int     `json:"failed"`
	PerSecond float64 `json:"per_second"` // attempted, over the posting time
}

// postRooms makes a rooms run's posts, message k by sender k%senders at its
// planned time (see postAll), each as a member of its room. It returns the
// posts, each room's accepted messages, each group's share and when the last
// post was answered. No end marker is sent: there are no stream-only
// processes to tell.
func postRooms(ctx context.Context, c *http.Client, cfg config, plan *roomPlan, users []*user) (*postReport, []bitset, [groupCount]groupPosts, time.Time) {
	posts := planRoomPosts(cfg, plan)
	results := make([]*postResult, cfg.Senders)
	started := time.Now()
	var wg sync.WaitGroup
	for s := range results {
		r := &postResult{statuses: map[string]int{}}
		results[s] = r
		wg.Go(func() {
			for k := s; k < len(posts); k += len(results) {
				p := &posts[k]
				if !sleepUntil(ctx, started.Add(p.at)) {
					return
				}
				p.tried = true
				rm := &plan.rooms[p.room]
				if rm.slug == "" {
					r.attempts++
					r.failed++
					r.statuses["room not set up"]++
					continue
				}
				room, seq := int(p.room), int(p.seq)
				p.ok = r.post(ctx, c, rm.postURL, plan.poster(users, room, seq), func(sent int64) string {
					return encodeRoomMessage(cfg.Run, room, seq, sent)
				}, 0)
			}
		})
	}
	wg.Wait()
	pr, _, last := sumPosts(results, len(posts), started)

	accepted := make([]bitset, len(plan.rooms))
	var groups [groupCount]groupPosts
	for _, p := range posts {
		g := &groups[plan.groupOf(int(p.room))]
		g.Planned++
		switch {
		case p.ok:
			g.Attempted++
			g.Accepted++
			accepted[p.room].add(int(p.seq))
		case p.tried:
			g.Attempted++
			g.Failed++
		}
	}
	pr.Accepted = groups[groupSmall].Accepted + groups[groupBig].Accepted
	if d := last.Sub(started); d > 0 {
		for i := range groups {
			groups[i].PerSecond = float64(groups[i].Attempted) / d.Seconds()
		}
	}
	return pr, accepted, groups, last
}

// roomsReport is what a rooms run adds to the report.
type roomsReport struct {
	Setup  roomSetup     `json:"setup"`
	Groups []groupReport `json:"groups"`
}

// groupReport is one group of rooms: its posts and what its streams got.
type groupReport struct {
	Name       string         `json:"name"`
	Rooms      int            `json:"rooms"`
	Members    int            `json:"members_per_room"`
	Rate       float64        `json:"rate"` // messages per second planned
	Posts      groupPosts     `json:"posts"`
	Deliveries deliveryReport `json:"deliveries"`
	// Misrouted counts messages of another room that reached a stream of
	// this group, on any stream: one is a leak between rooms.
	Misrouted int `json:"misrouted"`
}

// scoreRooms scores each room's streams against its accepted messages and
// adds them up by group, and for the whole run.
func scoreRooms(cfg config, plan *roomPlan, streams []*stream, eligible []bool, accepted []bitset, posts [groupCount]groupPosts, windowStart time.Time) (score, []groupReport) {
	var total score
	var groups [groupCount]groupReport
	var deliveries, lastRecv [groupCount]int64
	tallies := make([]*tally, len(streams))
	for i, s := range streams {
		tallies[i] = &s.tally
	}
	for r, rm := range plan.rooms {
		g := plan.groupOf(r)
		sc := scoreStreams(tallies[rm.first:rm.first+rm.n], eligible[rm.first:rm.first+rm.n], accepted[r])
		groups[g].Deliveries.score.add(sc)
		total.add(sc)
		for _, t := range tallies[rm.first : rm.first+rm.n] {
			groups[g].Misrouted += t.misrouted
			deliveries[g] += t.received.Load()
			lastRecv[g] = max(lastRecv[g], t.lastRecv)
		}
	}
	var out []groupReport
	for g := range groups {
		gr := &groups[g]
		gr.Name, gr.Posts = groupNames[g], posts[g]
		switch {
		case g == groupSmall && plan.small > 0:
			gr.Rooms, gr.Members, gr.Rate = plan.small, plan.size, cfg.RoomRate
		case g == groupBig && plan.big > 0:
			gr.Rooms, gr.Members, gr.Rate = 1, plan.big, cfg.BigRate
		default:
			continue
		}
		gr.Deliveries.Latency = latenciesOf(streams[0].shared.groupLatency[g].total())
		if span := time.Duration(lastRecv[g] - windowStart.UnixNano()); lastRecv[g] > 0 && span > 0 {
			gr.Deliveries.PerSecond = float64(deliveries[g]) / span.Seconds()
		}
		out = append(out, *gr)
	}
	return total, out
}

// writeRooms adds the rooms rows to the table.
func (r *report) writeRooms(row func(name, format string, args ...any), lat func(latencies) string) {
	rs := r.Rooms
	st := rs.Setup
	row("rooms", "%d created, %d there already (joined again), %d could not be set up; %d member joins failed", st.Created, st.Reused, st.Failed, st.JoinsFailed)
	if st.FirstError != "" {
		row("first rooms error", "%s", st.FirstError)
	}
	for _, g := range rs.Groups {
		p, d := g.Posts, g.Deliveries
		what := fmt.Sprintf("%d rooms of %d", g.Rooms, g.Members)
		if g.Rooms == 1 {
			what = fmt.Sprintf("1 room of %d", g.Members)
		}
		row(g.Name, "%s at %g messages/s: %d posts accepted, %d failed of %d planned; %.1f/s", what, g.Rate, p.Accepted, p.Failed, p.Planned, p.PerSecond)
		row("  deliveries", "%d received of %d expected (%d streams held for the whole posting window); %.0f/s", d.Received, d.Expected, d.Streams, d.PerSecond)
		row("  lost", "%d (of which %d arrived after the grace period)", d.Lost, d.Late)
		row("  duplicated", "%d", d.Duplicates)
		row("  misrouted", "%d (another room's messages received)", g.Misrouted)
		if d.OutOfOrder > 0 || d.Unexpected > 0 || d.Malformed > 0 {
			row("  out of order", "%d; %d deliveries of posts reported as failed; %d malformed", d.OutOfOrder, d.Unexpected, d.Malformed)
		}
		row("  delivery latency", "%s", lat(d.Latency))
	}
}

// roomFailures are a rooms run's reasons to exit 1, beyond those of every
// run.
func roomFailures(rs *roomsReport) []string {
	var f []string
	misrouted := 0
	for _, g := range rs.Groups {
		misrouted += g.Misrouted
	}
	for _, c := range []struct {
		n    int
		what string
	}{
		{rs.Setup.Failed, "rooms could not be set up"},
		{rs.Setup.JoinsFailed, "room joins failed"},
		{misrouted, "deliveries misrouted (another room's messages)"},
	} {
		if c.n > 0 {
			f = append(f, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	return f
}

var errNoRoom = errors.New("its room could not be set up")
