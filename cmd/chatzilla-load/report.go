package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// report is everything a run measured. Durations are in milliseconds.
type report struct {
	Target     string           `json:"target"`
	Run        string           `json:"run"`
	Streams    streamReport     `json:"streams"`
	Posts      *postReport      `json:"posts,omitempty"` // nil with -senders 0
	Deliveries deliveryReport   `json:"deliveries"`
	Rooms      *roomsReport     `json:"rooms,omitempty"`  // rooms mode: setup and each group of rooms
	Storm      *stormReport     `json:"storm,omitempty"`  // with -storm
	Server     *serverReport    `json:"server,omitempty"` // with -pid
	Client     clientReport     `json:"client"`
	PhasesMS   map[string]int64 `json:"phases_ms"`
	Notes      []string         `json:"notes,omitempty"`
	Failures   []string         `json:"failures"` // why the run exits 1; empty when it passed
}

type streamReport struct {
	Requested    int       `json:"requested"`
	Opened       int       `json:"opened"`
	FailedToOpen int       `json:"failed_to_open"`
	GivenUp      int       `json:"given_up"` // dropped and could not reconnect
	HeldToEnd    int       `json:"held"`     // open at the end
	Eligible     int       `json:"eligible"` // held for the whole posting window
	Reconnects   int       `json:"reconnects"`
	Oversized    int       `json:"oversized_lines"` // event lines too long to be messages, skipped
	Connect      latencies `json:"connect_ms"`
	FirstError   string    `json:"first_error,omitempty"`
}

type postReport struct {
	Planned   int            `json:"planned"`
	Attempted int            `json:"attempted"`
	Accepted  int            `json:"accepted"`
	Failed    int            `json:"failed"`
	Statuses  map[string]int `json:"statuses"` // HTTP status, or timeout/refused/reset/error
	PerSecond float64        `json:"per_second"`
	Latency   latencies      `json:"latency_ms"`
}

type deliveryReport struct {
	score
	PerSecond float64   `json:"per_second"`
	Latency   latencies `json:"latency_ms"`
}

// latencies are in milliseconds.
type latencies struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func latenciesOf(h *histogram) latencies {
	return latencies{P50: ms(h.percentile(50)), P90: ms(h.percentile(90)), P99: ms(h.percentile(99)), Max: ms(h.maxDuration())}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

type serverReport struct {
	PID    int        `json:"pid"`
	Before procSample `json:"before_streams"`
	Open   procSample `json:"streams_open_idle"`
	End    procSample `json:"end"`
	// RSSKiBPerStream is the growth from Before to Open over the streams
	// opened; CPUMicrosPerDelivery the CPU from Open to End over the
	// deliveries received (all of this process's, on time or not).
	RSSKiBPerStream      float64 `json:"rss_kib_per_stream"`
	CPUMicrosPerDelivery float64 `json:"cpu_us_per_delivery"`
}

type clientReport struct {
	CPUSeconds float64 `json:"cpu_seconds"`
	RSSKiB     int64   `json:"rss_kib"`
}

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func (r *report) writeTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{name}, args...)...)
	}
	lat := func(l latencies) string {
		return fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s", msText(l.P50), msText(l.P90), msText(l.P99), msText(l.Max))
	}

	row("target", "%s  (run %s)", r.Target, r.Run)
	s, d := r.Streams, r.Deliveries
	if s.Requested > 0 {
		row("streams", "%d held of %d requested; %d failed to open, %d given up, %d reconnects", s.HeldToEnd, s.Requested, s.FailedToOpen, s.GivenUp, s.Reconnects)
		row("stream connect", "%s", lat(s.Connect))
	}
	if s.Oversized > 0 {
		row("oversized events", "%d event lines over %d KiB skipped: too long to be messages", s.Oversized, maxSSELine>>10)
	}
	if s.FirstError != "" {
		row("first stream error", "%s", s.FirstError)
	}
	if p := r.Posts; p != nil {
		row("posts", "%d accepted, %d failed of %d planned (%s); %.1f/s", p.Accepted, p.Failed, p.Planned, statusText(p.Statuses), p.PerSecond)
		row("post latency", "p50 %s  p99 %s  max %s", msText(p.Latency.P50), msText(p.Latency.P99), msText(p.Latency.Max))
	}
	if s.Requested > 0 {
		row("deliveries", "%d received of %d expected (%d streams held for the whole posting window)", d.Received, d.Expected, d.Streams)
		row("lost", "%d (of which %d arrived after the grace period)", d.Lost, d.Late)
		row("duplicated", "%d", d.Duplicates)
		row("out of order", "%d", d.OutOfOrder)
		if d.Unexpected > 0 || d.Malformed > 0 {
			row("unexpected", "%d deliveries of posts reported as failed; %d malformed", d.Unexpected, d.Malformed)
		}
		row("delivery latency", "%s", lat(d.Latency))
		row("deliveries/s", "%.0f", d.PerSecond)
	}
	if r.Rooms != nil {
		r.writeRooms(row, lat)
	}
	if r.Storm != nil {
		r.writeStorm(row, lat)
	}
	if sv := r.Server; sv != nil {
		row("server pid", "%d", sv.PID)
		row("server RSS", "%s before streams, %s open and idle, %s at end", mib(sv.Before.RSSKiB), mib(sv.Open.RSSKiB), mib(sv.End.RSSKiB))
		row("server CPU", "%.2f s before streams, %.2f s open and idle, %.2f s at end", sv.Before.CPUSeconds, sv.Open.CPUSeconds, sv.End.CPUSeconds)
		if s.Opened > 0 {
			row("RSS per stream", "%.1f KiB", sv.RSSKiBPerStream)
		}
		if sv.CPUMicrosPerDelivery > 0 {
			row("CPU per delivery", "%.1f µs", sv.CPUMicrosPerDelivery)
		}
	}
	row("load client", "%.2f s CPU, %s RSS", r.Client.CPUSeconds, mib(r.Client.RSSKiB))
	row("phases", "%s", phaseText(r.PhasesMS))
	for _, n := range r.Notes {
		row("note", "%s", n)
	}
	if len(r.Failures) == 0 {
		row("result", "PASS")
	} else {
		row("result", "FAIL: %s", strings.Join(r.Failures, "; "))
	}
	return tw.Flush()
}

// writeStorm adds the -storm rows to the table.
func (r *report) writeStorm(row func(name, format string, args ...any), lat func(latencies) string) {
	st := r.Storm
	if rs := st.Restart; rs != nil {
		switch {
		case rs.Error != "":
			row("restart", "SIGTERM to %d %s into posting: %s", rs.PID, msText(rs.AtMS), rs.Error)
		default:
			pid := ""
			if rs.NewPID != 0 {
				pid = fmt.Sprintf(" (new pid %d)", rs.NewPID)
			}
			row("restart", "SIGTERM to %d %s into posting; it exited or stopped listening %s later; /healthz answered %s after SIGTERM%s",
				rs.PID, msText(rs.AtMS), msText(rs.StoppedMS), msText(rs.ReadyMS), pid)
		}
		if ns := rs.NewServer; ns != nil {
			row("new server", "%s RSS, %.2f s CPU at end", mib(ns.RSSKiB), ns.CPUSeconds)
		}
	}
	row("reconnects", "%d: %d streams reconnected, %d more than once, at most %d per stream; %d not back at the end",
		st.Reconnects, st.StreamsBack, st.StreamsBackAgain, st.MaxPerStream, st.NotBack)
	from := "from the disconnect"
	if st.LatencyFrom == "readiness" {
		from = fmt.Sprintf("from readiness (%s, %s after SIGTERM), for streams that ended after SIGTERM", st.ReadinessBy, msText(st.ReadinessMS))
	}
	row("reconnect latency", "%s  (%s; delay %s, %d streams waited the server's retry:)", lat(st.Latency), from, st.ReconnectDelay, st.ServerRetry)
	row("since disconnect", "%s", lat(st.SinceDisconnect))
	if st.LatencyFrom == "readiness" {
		row("ended after SIGTERM", "%s  (as the client saw it)", lat(st.EndedAfterTerm))
		row("back after SIGTERM", "%s", lat(st.BackAfterTerm))
	}
	row("replay failures", "%d (%s); reconnects with no answer: %s", st.ReplayFailures, countText(st.ReplayStatuses), countText(st.ConnectErrors))
	calm := "every stream caught up"
	if !st.Calmed {
		calm = "still raging at the end"
	}
	row("storm", "%s, %s; %d deliveries during it", msText(st.DurationMS), calm, st.Deliveries)
	row("storm delivery latency", "%s", lat(st.DeliveryLatency))
}

func msText(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.2fs", v/1000)
	}
	return fmt.Sprintf("%.1fms", v)
}

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

func statusText(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	if len(parts) == 0 {
		return "none sent"
	}
	return strings.Join(parts, " ")
}

// countText is statusText for counts of things that went wrong.
func countText(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	return statusText(m)
}

// phaseOrder is the order phases happen in.
var phaseOrder = []string{"join", "rooms", "connect", "settle", "post", "drain", "total"}

func phaseText(m map[string]int64) string {
	var parts []string
	for _, k := range phaseOrder {
		if v, ok := m[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %s", k, msText(float64(v))))
		}
	}
	return strings.Join(parts, ", ")
}

func streamsReport(streams []*stream) streamReport {
	r := streamReport{Requested: len(streams)}
	for _, s := range streams {
		switch {
		case s.openedAt.Load() == 0:
			r.FailedToOpen++
		case s.dead.Load():
			r.Opened++
			r.GivenUp++
		default:
			r.Opened++
			r.HeldToEnd++
		}
		r.Reconnects += s.reconnects
		r.Oversized += s.oversized
		if s.err != nil && r.FirstError == "" {
			r.FirstError = s.err.Error()
		}
	}
	if len(streams) > 0 {
		r.Connect = latenciesOf(streams[0].shared.connect.total())
	}
	return r
}

// failures are the reasons to exit 1.
func failures(cfg config, r *report) []string {
	var f []string
	d := r.Deliveries
	add := func(n int, what string) {
		if n > 0 {
			f = append(f, strconv.Itoa(n)+" "+what)
		}
	}
	add(d.Lost, "deliveries lost")
	add(d.Duplicates, "deliveries duplicated")
	add(d.OutOfOrder, "deliveries out of order")
	add(d.Malformed, "malformed payloads")
	add(r.Streams.FailedToOpen, "streams failed to open")
	add(r.Streams.GivenUp, "streams dropped for good")
	if st := r.Storm; st != nil {
		add(st.NotBack, "streams not back after the storm")
		if st.Restart != nil && st.Restart.Error != "" {
			f = append(f, "restart: "+st.Restart.Error)
		}
	}
	if r.Rooms != nil {
		f = append(f, roomFailures(r.Rooms)...)
	}
	if p := r.Posts; p != nil {
		if !cfg.AllowFailed {
			add(p.Failed, "posts failed")
		}
		if p.Accepted == 0 {
			f = append(f, "no post was accepted")
		}
	}
	return f
}
