package main

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// config is one load run, as the flags describe it.
type config struct {
	CPUProfile  string // this tool's CPU profile; "": none
	URL         *url.URL
	Streams     int
	Senders     int
	Messages    int           // posts to make; set from Rate×Duration when Duration is given
	Rate        float64       // posts per second, all senders together; 0 posts as fast as possible
	Duration    time.Duration // post for this long instead of a fixed count
	Grace       time.Duration
	SourceIPs   []net.IP // local addresses streams are spread over; none lets the kernel choose
	Concurrency int      // joins and stream connects in flight at once
	Timeout     time.Duration
	Settle      time.Duration // idle time after the streams open, before measuring the server
	Wait        time.Duration // -senders 0: how long to wait for the poster's end marker
	Run         string
	PID         int
	JSON        bool
	AllowFailed bool
	Epoll       bool // read streams with epoll (Linux), not a goroutine each

	// A restart storm: streams reconnect as EventSource does until the run
	// ends, and the server may be restarted mid-run (see storm.go).
	Storm          bool
	ReconnectMin   time.Duration // each reconnect waits a random time in [ReconnectMin, ReconnectMax]
	ReconnectMax   time.Duration // unless the server sent a retry: field
	RestartAfter   time.Duration // from the start of posting; 0: the tool restarts nothing
	RestartCommand string        // starts the server again; "": something else does

	// Rooms mode (see rooms.go): streams spread over rooms of their own
	// members instead of all holding general, posts spread over the rooms.
	Rooms      int     // small rooms; 0 with BigRoom 0: the single-room mode
	RoomSize   int     // members (streams) of each small room
	BigRoom    int     // members of the one big room; 0: no big room
	RoomRate   float64 // messages per second across the small rooms
	BigRate    float64 // messages per second in the big room
	RoomPrefix string  // rooms are named PREFIX-r0001… and PREFIX-big
}

// roomsMode says whether the run spreads its streams over rooms.
func (c *config) roomsMode() bool { return c.Rooms > 0 || c.BigRoom > 0 }

func parseConfig(args []string, stderr io.Writer) (config, error) {
	var c config
	var rawURL, sources, reconnectDelay string
	var err error
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s [flags]\n\n%s\n\nFlags:\n", args[0], usageText)
		fs.PrintDefaults()
	}
	fs.StringVar(&rawURL, "url", "http://127.0.0.1:5000", "Chatzilla to load; nothing else is ever contacted")
	fs.IntVar(&c.Streams, "streams", 100, "streams to hold, one joined user each")
	fs.IntVar(&c.Senders, "senders", 10, "users posting messages; 0 only holds streams and waits for another process's posts (needs -run)")
	fs.IntVar(&c.Messages, "messages", 100, "messages to post in all")
	fs.Float64Var(&c.Rate, "rate", 50, "messages per second, all senders together (0: as fast as they can)")
	fs.DurationVar(&c.Duration, "duration", 0, "post at -rate for this long instead of posting -messages")
	fs.DurationVar(&c.Grace, "grace", 5*time.Second, "after the last post, how long a stream has to receive a message before it counts as lost")
	fs.StringVar(&sources, "source-ips", "", "loopback addresses to spread streams over: a count (8 = 127.0.0.1-127.0.0.8), a range 127.0.0.1-127.0.0.8, or a comma list; only for a loopback -url")
	fs.IntVar(&c.Concurrency, "concurrency", 200, "joins and stream connects in flight at once")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Second, "limit for each join, post and stream connect")
	fs.DurationVar(&c.Settle, "settle", 2*time.Second, "idle time after the streams open, before measuring the server and posting")
	fs.DurationVar(&c.Wait, "wait", 10*time.Minute, "with -senders 0: how long to wait for the posting process to finish")
	fs.StringVar(&c.Run, "run", "", "run id (letters and digits) shared by cooperating processes; random by default")
	fs.IntVar(&c.PID, "pid", 0, "the server's process id, to report its memory and CPU (same machine, Linux)")
	fs.BoolVar(&c.JSON, "json", false, "print the report as JSON")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write this tool's own CPU profile to this file, to tell its cost from the server's")
	fs.BoolVar(&c.AllowFailed, "allow-failed-posts", false, "exit 0 even if some posts were refused (429, 503, timeouts)")
	fs.BoolVar(&c.Epoll, "epoll", true, "read streams with epoll, one goroutine per processor (Linux, http:// only); false: a goroutine per stream")
	fs.BoolVar(&c.Storm, "storm", false, "restart-storm mode: a stream the server ends is reconnected with Last-Event-ID after -reconnect-delay, again and again until the run ends, and is not a failure")
	fs.StringVar(&reconnectDelay, "reconnect-delay", "100ms-1.1s", "with -storm: the random wait before each reconnect, a range MIN-MAX or one duration; a retry: field from the server replaces it, as in EventSource")
	fs.DurationVar(&c.RestartAfter, "restart-after", 0, "with -storm: this long after posting starts, send SIGTERM to -pid and wait for /healthz to answer again")
	fs.StringVar(&c.RestartCommand, "restart-cmd", "", "with -restart-after: a shell command that starts the server again once the old one has stopped listening (\"exec bin/chatzilla\" keeps its pid); without it, something else restarts it")
	fs.IntVar(&c.Rooms, "rooms", 0, "rooms mode: spread streams over this many rooms of -room-size members each (0: every stream holds general, as without rooms)")
	fs.IntVar(&c.RoomSize, "room-size", 10, "with -rooms: members of each room, one stream each")
	fs.IntVar(&c.BigRoom, "big-room", 0, "rooms mode: members (streams) of one more, big room; works with or without -rooms")
	fs.Float64Var(&c.RoomRate, "room-rate", 1000, "with -rooms: messages per second across the -rooms rooms, each to a random one")
	fs.Float64Var(&c.BigRate, "big-rate", 50, "with -big-room: messages per second in the big room, at the same time as -room-rate")
	fs.StringVar(&c.RoomPrefix, "room-prefix", "load", "rooms mode: rooms are named PREFIX-r0001… and PREFIX-big (lower-case letters, digits and '-'); rooms left by an earlier run are joined again")
	if err := fs.Parse(args[1:]); err != nil {
		return c, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.ReconnectMin, c.ReconnectMax, err = parseDelayRange(reconnectDelay); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (flags only)", fs.Arg(0))
	}
	if c.URL, err = parseTarget(rawURL); err != nil {
		return c, err
	}
	if c.SourceIPs, err = parseSourceIPs(sources); err != nil {
		return c, err
	}
	if len(c.SourceIPs) > 0 && !isLoopbackHost(c.URL.Hostname()) {
		return c, fmt.Errorf("-source-ips only works against a loopback -url, not %s", c.URL.Host)
	}
	if ip := net.ParseIP(c.URL.Hostname()); len(c.SourceIPs) > 0 && ip != nil && ip.To4() == nil {
		return c, fmt.Errorf("-source-ips are IPv4 addresses: use an IPv4 -url such as http://127.0.0.1:%s", c.URL.Port())
	}
	if err := c.checkRooms(set); err != nil {
		return c, err
	}
	return c, c.check()
}

const usageText = `Joins -streams users, holds one event stream each, posts -messages (or
-rate for -duration) from -senders users, and reports deliveries, loss,
latency and, with -pid, the server's memory and CPU. It exits 1 on any lost,
duplicated or out-of-order delivery, on a stream it could not hold, and on a
refused post unless -allow-failed-posts.

With -storm, streams behave as a browser's EventSource: one the server ends
(or that cannot reach it) reconnects after -reconnect-delay with the last
Last-Event-ID, until the run ends; the report counts reconnects, refused
resumes and their latency. Posts refused at connect (the server is down) are
retried. -restart-after with -pid restarts the server mid-run: SIGTERM, then
-restart-cmd once the old process has stopped listening, then /healthz.

Beyond one process's open-file limit, start stream-only processes first
(-senders 0 -run ID), wait for each to print "ready", then start one posting
process with the same -run. Beyond about 28,000 streams from one address,
spread them with -source-ips. On Linux, streams are read with epoll by one
goroutine per processor (-epoll=false: a goroutine per stream, which costs the
client a wake-up and an extra read per event). Leave GOMAXPROCS alone, even
on the server's own machine: with one processor, posts wait behind the
readers, and that wait counts as delivery latency.

Rooms mode (-rooms N, -big-room M, or both): instead of every stream holding
general, N rooms of -room-size members and one room of M members are made
(named -room-prefix-r0001… and -room-prefix-big; POST /rooms, -concurrency at
a time, or joined again if an earlier run left them), and each member holds
its own room's stream, /rooms/SLUG/events. For -duration, -senders post
-room-rate messages/s across the N rooms, each to a random one, and -big-rate
messages/s in the big room at the same time, each as a member of the room.
The report gives each group (small rooms, big room) its posts, loss,
duplicates, delivery latency and misrouted deliveries (a message that reached
a stream of another room), and the server's memory per stream as usual;
anything lost, duplicated or misrouted fails the run. -streams, -messages and
-rate do not apply, and neither -senders 0 nor -storm works with rooms. The
target of issue 16 (12,000 streams: 10,000 in rooms of 10 and 2,000 in one
room; 1,050 messages/s):

  chatzilla-load -rooms 1000 -room-size 10 -big-room 2000 -room-rate 1000 \
    -big-rate 50 -duration 30s -senders 50 -pid PID`

func (c *config) check() error {
	switch {
	case c.Streams < 0 || c.Senders < 0:
		return errors.New("-streams and -senders must be 0 or more")
	case c.Streams == 0 && c.Senders == 0:
		return errors.New("nothing to do: -streams and -senders are both 0")
	case c.Rate < 0 || math.IsInf(c.Rate, 0) || math.IsNaN(c.Rate):
		return errors.New("-rate must be 0 or more messages per second")
	case c.Duration < 0 || c.Grace < 0 || c.Settle < 0 || c.Wait <= 0 || c.Timeout <= 0:
		return errors.New("-duration, -grace and -settle must be 0 or more; -wait and -timeout more than 0")
	case c.Concurrency < 1:
		return errors.New("-concurrency must be at least 1")
	case c.Senders == 0 && c.Run == "":
		return errors.New("-senders 0 needs -run: the id the posting process uses")
	case c.Run != "" && !isRunID(c.Run):
		return fmt.Errorf("-run %q must be 1 to 16 letters or digits", c.Run)
	case c.RestartAfter < 0:
		return errors.New("-restart-after must be 0 or more")
	case c.RestartAfter > 0 && (!c.Storm || c.PID == 0 || c.Senders == 0):
		return errors.New("-restart-after needs -storm, the server's -pid and -senders: the posting process restarts the server")
	case c.RestartCommand != "" && c.RestartAfter == 0:
		return errors.New("-restart-cmd needs -restart-after")
	}
	if c.Duration > 0 && !c.roomsMode() {
		if c.Rate == 0 {
			return errors.New("-duration needs a -rate")
		}
		c.Messages = int(c.Rate * c.Duration.Seconds())
	}
	if c.Senders > 0 && (c.Messages < 1 || c.Messages > maxSeq) {
		return fmt.Errorf("the run must post from 1 to %d messages, not %d", maxSeq, c.Messages)
	}
	if c.Run == "" {
		var b [8]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
		c.Run = strconv.FormatUint(binary.LittleEndian.Uint64(b[:])&0xffffffffff, 36)
	}
	return nil
}

// Bounds on a rooms run, far beyond what one process can hold, so that the
// products below cannot overflow.
const (
	maxRooms       = 100_000
	maxRoomMembers = 1_000_000
)

// checkRooms checks the rooms-mode flags (set: the flags given) and derives
// the run's streams and posts from them.
func (c *config) checkRooms(set map[string]bool) error {
	if c.Rooms < 0 || c.BigRoom < 0 || c.Rooms > maxRooms || c.BigRoom > maxRoomMembers {
		return fmt.Errorf("-rooms must be from 0 to %d and -big-room from 0 to %d", maxRooms, maxRoomMembers)
	}
	if !c.roomsMode() {
		for _, f := range []string{"room-size", "room-rate", "big-rate", "room-prefix"} {
			if set[f] {
				return fmt.Errorf("-%s needs -rooms or -big-room", f)
			}
		}
		return nil
	}
	switch {
	case c.Rooms > 0 && (c.RoomSize < 1 || c.RoomSize > maxRoomMembers):
		return fmt.Errorf("-room-size must be from 1 to %d", maxRoomMembers)
	case set["streams"] || set["messages"] || set["rate"]:
		return errors.New("-streams, -messages and -rate do not apply to rooms: the streams are -rooms × -room-size + -big-room, the posts -room-rate and -big-rate for -duration")
	case c.Duration <= 0:
		return errors.New("rooms mode needs a -duration to post -room-rate and -big-rate for")
	case c.Rooms > 0 && !validRate(c.RoomRate), c.BigRoom > 0 && !validRate(c.BigRate):
		return errors.New("-room-rate (with -rooms) and -big-rate (with -big-room) must be more than 0 messages per second")
	case c.Senders < 1:
		return errors.New("rooms mode needs -senders: stream-only processes (-senders 0) do not work with rooms")
	case c.Storm:
		return errors.New("-storm does not work with rooms yet")
	case !isRoomPrefix(c.RoomPrefix):
		return fmt.Errorf("-room-prefix %q must be 1 to 40 lower-case letters, digits or '-'", c.RoomPrefix)
	}
	c.Streams = c.Rooms*c.RoomSize + c.BigRoom
	if c.Streams > maxRoomMembers {
		return fmt.Errorf("rooms mode holds at most %d streams, not %d", maxRoomMembers, c.Streams)
	}
	// Checked as floats first: a huge rate must not overflow an int.
	posts := 0.0
	if c.Rooms > 0 {
		posts += c.RoomRate * c.Duration.Seconds()
	}
	if c.BigRoom > 0 {
		posts += c.BigRate * c.Duration.Seconds()
	}
	if posts > maxSeq {
		return fmt.Errorf("the run must post at most %d messages, not %.0f", maxSeq, posts)
	}
	small, big := c.roomPosts()
	c.Messages = small + big
	return nil
}

// roomPosts is how many messages a rooms run posts to its small rooms and
// to its big room.
func (c *config) roomPosts() (small, big int) {
	if c.Rooms > 0 {
		small = int(c.RoomRate * c.Duration.Seconds())
	}
	if c.BigRoom > 0 {
		big = int(c.BigRate * c.Duration.Seconds())
	}
	return small, big
}

func validRate(r float64) bool { return r > 0 && !math.IsInf(r, 0) && !math.IsNaN(r) }

// isRoomPrefix accepts what makes a room name its own slug.
func isRoomPrefix(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

func isRunID(s string) bool {
	if len(s) > 16 {
		return false
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return false
		}
	}
	return true
}

func parseTarget(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" {
		return nil, fmt.Errorf("-url %q must be an http:// or https:// base URL such as http://127.0.0.1:5000", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// isLoopbackHost says whether host is this machine: a loopback address, or a
// name that only resolves to loopback addresses.
func isLoopbackHost(host string) bool {
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback()
	}
	ips, err := net.LookupIP(host)
	if err != nil || len(ips) == 0 {
		return false
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return false
		}
	}
	return true
}

// maxSourceIPs is far more than needed: each address adds about 28,000
// ephemeral ports (Linux's default range), and one process holds at most its
// open-file limit of streams.
const maxSourceIPs = 256

// parseSourceIPs reads -source-ips. Only loopback addresses are accepted:
// spreading connections over addresses is a way round the ephemeral port
// limit on one machine, not a way to appear as many clients to a remote
// server.
func parseSourceIPs(s string) ([]net.IP, error) {
	if s == "" {
		return nil, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > maxSourceIPs {
			return nil, fmt.Errorf("-source-ips count must be from 1 to %d", maxSourceIPs)
		}
		s = fmt.Sprintf("127.0.0.1-127.0.0.%d", n)
	}
	var ips []net.IP
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		first, last := net.ParseIP(lo).To4(), net.ParseIP(hi).To4()
		if !isRange {
			last = first
		}
		if first == nil || last == nil {
			return nil, fmt.Errorf("-source-ips: %q is not an IPv4 address or range", part)
		}
		a, b := binary.BigEndian.Uint32(first), binary.BigEndian.Uint32(last)
		if a > b || b-a >= maxSourceIPs {
			return nil, fmt.Errorf("-source-ips: %q is not a range of at most %d addresses", part, maxSourceIPs)
		}
		for v := a; v <= b; v++ {
			ip := make(net.IP, 4)
			binary.BigEndian.PutUint32(ip, v)
			if !ip.IsLoopback() {
				return nil, fmt.Errorf("-source-ips: %s is not a loopback address", ip)
			}
			ips = append(ips, ip)
		}
		if len(ips) > maxSourceIPs {
			return nil, fmt.Errorf("-source-ips: more than %d addresses", maxSourceIPs)
		}
	}
	return ips, nil
}

// parseDelayRange reads -reconnect-delay: "MIN-MAX" or one duration.
func parseDelayRange(s string) (lo, hi time.Duration, err error) {
	a, b, isRange := strings.Cut(s, "-")
	lo, err1 := time.ParseDuration(strings.TrimSpace(a))
	hi, err2 := lo, error(nil)
	if isRange {
		hi, err2 = time.ParseDuration(strings.TrimSpace(b))
	}
	if err1 != nil || err2 != nil || lo < 0 || hi < lo {
		return 0, 0, fmt.Errorf("-reconnect-delay %q must be a duration or a range MIN-MAX such as 100ms-1.1s", s)
	}
	return lo, hi, nil
}
