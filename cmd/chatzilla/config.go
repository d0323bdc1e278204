package main

import (
	"cmp"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// setting is one environment variable Chatzilla reads.
type setting struct {
	name, fallback, help string
}

// settings is every variable, in the order `chatzilla -h` lists them.
var settings = []setting{
	{"PORT", "5000", "TCP port to listen on (all interfaces)"},
	{"DATABASE_URL", "sqlite:chatzilla.db", "where messages are kept: sqlite:PATH, or postgres://... / postgresql://... for PostgreSQL (required on Heroku)"},
	{"SESSION_SECRET", "", "secret (32+ characters) that signs and encrypts session cookies; required in production, kept in SESSION_SECRET_FILE otherwise"},
	{"SESSION_SECRET_FILE", devSecretFile, "outside production, where a secret is made and kept when SESSION_SECRET is not set"},
	{"SESSION_SECRET_OLD", "", "previous SESSION_SECRET, still accepted while you rotate secrets"},
	{"HISTORY_SIZE", "100", "how many recent messages a page shows (1-1000)"},
	{"MESSAGE_MAX_LENGTH", "2000", "longest message in characters (1-10000)"},
	{"RATE_LIMITS", "on", "flood control on POST /messages and POST /join; off only for load tests on a trusted network"},
	{"MESSAGE_RATE", "5", "messages per second each session and each client address may post, on average"},
	{"MESSAGE_BURST", "20", "messages a session or address may post at once before MESSAGE_RATE applies"},
	{"JOIN_RATE", "1", "joins per second from one client address, on average"},
	{"JOIN_BURST", "10", "joins one client address may make at once"},
	{"STREAMS_MAX", "50000", "open live streams in all (also capped by the open-file limit); beyond it 503"},
	{"STREAMS_PER_SESSION", "10", "open live streams (tabs) per session; beyond it 503"},
	{"STREAMS_PER_ADDRESS", "500", "open live streams per client address (IPv6: per /64), at most half of all; beyond it 503"},
	{"CONNECTIONS_PER_ADDRESS", "1000", "open connections per client address, at most half of all; beyond it 503 (not applied with TRUST_PROXY, where every connection comes from the router)"},
	{"STREAM_OPEN_RATE", "2", "streams a session may open per second, on average (each address: 25 times as many); beyond it 429 (off with RATE_LIMITS=off)"},
	{"STREAM_OPEN_BURST", "20", "streams a session may open at once before STREAM_OPEN_RATE applies (each address: STREAMS_PER_ADDRESS)"},
	{"REPLAY_MAX", "2000", "most missed messages a reconnecting stream replays; a page further behind is told to reload its list"},
	{"PRESENCE_GRACE", "5s", "how long someone stays in \"who's online\" after their last tab closed, so reloads and reconnects go unnoticed"},
	{"TRUST_PROXY", "false (true on Heroku)", "trust X-Forwarded-For and X-Forwarded-Proto from a router in front of the app"},
	{"TRUST_PROXY_HOPS", "1", "with TRUST_PROXY, how many proxies in front of the app append to X-Forwarded-For (Heroku's router is 1): the client address is taken that many entries from the right"},
	{"DYNO", "", "set by Heroku; its presence means production"},
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: chatzilla\n\nChatzilla is configured through the environment:")
	for _, s := range settings {
		fallback := ""
		if s.fallback != "" {
			fallback = " (default " + s.fallback + ")"
		}
		fmt.Fprintf(w, "  %-20s %s%s\n", s.name, s.help, fallback)
	}
}

type config struct {
	Port             int
	Database         database
	SessionSecret    string
	SessionSecretOld string
	// SessionSecretFile is set when no secret was configured outside
	// production: the secret is then the one kept in this file.
	SessionSecretFile     string
	HistorySize           int
	MaxMessageLength      int
	TrustProxy            bool
	TrustProxyHops        int
	Production            bool
	FloodControl          bool
	MessageRate, JoinRate float64
	MessageBurst          int
	JoinBurst             int
	MaxStreams            int
	MaxStreamsPerSession  int
	MaxStreamsPerAddress  int
	MaxConnsPerAddress    int
	StreamOpenRate        float64
	StreamOpenBurst       int
	MaxReplay             int
	PresenceGrace         time.Duration
}

// database is a parsed DATABASE_URL.
type database struct {
	Kind string // "sqlite" or "postgres"
	// Path (SQLite) or URL (PostgreSQL).
	Path, URL string
}

const minSecretLength = 32

// loadConfig reads and checks the configuration once, at start. Every error
// names the variable to fix.
func loadConfig(getenv func(string) string) (config, error) {
	var c config
	var err error
	c.Production = getenv("DYNO") != ""

	if c.Port, err = intSetting(getenv, "PORT", 5000, 0, 65535); err != nil {
		return c, err
	}
	if c.HistorySize, err = intSetting(getenv, "HISTORY_SIZE", 100, 1, 1000); err != nil {
		return c, err
	}
	if c.MaxMessageLength, err = intSetting(getenv, "MESSAGE_MAX_LENGTH", 2000, 1, 10000); err != nil {
		return c, err
	}
	if c.TrustProxy, err = boolSetting(getenv, "TRUST_PROXY", c.Production); err != nil {
		return c, err
	}
	if c.TrustProxyHops, err = intSetting(getenv, "TRUST_PROXY_HOPS", 1, 1, 10); err != nil {
		return c, err
	}
	if c.FloodControl, err = onOffSetting(getenv, "RATE_LIMITS", true); err != nil {
		return c, err
	}
	if c.MessageRate, err = rateSetting(getenv, "MESSAGE_RATE", 5); err != nil {
		return c, err
	}
	if c.MessageBurst, err = intSetting(getenv, "MESSAGE_BURST", 20, 1, 10000); err != nil {
		return c, err
	}
	if c.JoinRate, err = rateSetting(getenv, "JOIN_RATE", 1); err != nil {
		return c, err
	}
	if c.JoinBurst, err = intSetting(getenv, "JOIN_BURST", 10, 1, 10000); err != nil {
		return c, err
	}
	if c.MaxStreams, err = intSetting(getenv, "STREAMS_MAX", 50000, 1, 10000000); err != nil {
		return c, err
	}
	if c.MaxStreamsPerSession, err = intSetting(getenv, "STREAMS_PER_SESSION", 10, 1, 10000); err != nil {
		return c, err
	}
	if c.MaxStreamsPerAddress, err = intSetting(getenv, "STREAMS_PER_ADDRESS", 500, 1, 10000000); err != nil {
		return c, err
	}
	if c.MaxConnsPerAddress, err = intSetting(getenv, "CONNECTIONS_PER_ADDRESS", 1000, 1, 10000000); err != nil {
		return c, err
	}
	if c.StreamOpenRate, err = rateSetting(getenv, "STREAM_OPEN_RATE", 2); err != nil {
		return c, err
	}
	if c.StreamOpenBurst, err = intSetting(getenv, "STREAM_OPEN_BURST", 20, 1, 10000); err != nil {
		return c, err
	}
	if c.MaxReplay, err = intSetting(getenv, "REPLAY_MAX", 2000, 1, 1000000); err != nil {
		return c, err
	}
	if c.PresenceGrace, err = durationSetting(getenv, "PRESENCE_GRACE", 5*time.Second); err != nil {
		return c, err
	}
	if c.Database, err = parseDatabaseURL(getenv("DATABASE_URL"), c.Production); err != nil {
		return c, err
	}

	c.SessionSecret, c.SessionSecretOld = getenv("SESSION_SECRET"), getenv("SESSION_SECRET_OLD")
	switch {
	case c.SessionSecret == "" && c.Production:
		return c, fmt.Errorf("SESSION_SECRET must be set in production (heroku config:set SESSION_SECRET=$(openssl rand -hex 32))")
	case c.SessionSecret == "":
		c.SessionSecretFile = cmp.Or(getenv("SESSION_SECRET_FILE"), devSecretFile)
	case len(c.SessionSecret) < minSecretLength:
		return c, fmt.Errorf("SESSION_SECRET must be at least %d characters long", minSecretLength)
	}
	if c.SessionSecretOld != "" && len(c.SessionSecretOld) < minSecretLength {
		return c, fmt.Errorf("SESSION_SECRET_OLD must be at least %d characters long", minSecretLength)
	}
	return c, nil
}

func parseDatabaseURL(v string, production bool) (database, error) {
	switch {
	case v == "" && production:
		// Dyno disks are ephemeral and not shared between dynos.
		return database{}, fmt.Errorf("DATABASE_URL must point to PostgreSQL on Heroku: dyno disks are wiped on restart and not shared (heroku addons:create heroku-postgresql)")
	case v == "":
		return database{Kind: "sqlite", Path: "chatzilla.db"}, nil
	case strings.HasPrefix(v, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(v, "sqlite:"), "//")
		if path == "" {
			return database{}, fmt.Errorf("DATABASE_URL %q names no file: use sqlite:PATH", v)
		}
		return database{Kind: "sqlite", Path: path}, nil
	case strings.HasPrefix(v, "postgres://"), strings.HasPrefix(v, "postgresql://"):
		return database{Kind: "postgres", URL: v}, nil
	}
	return database{}, fmt.Errorf("DATABASE_URL must start with sqlite:, postgres:// or postgresql://")
}

func intSetting(getenv func(string) string, name string, fallback, lo, hi int) (int, error) {
	v := getenv(name)
	if v == "" {
		return fallback, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s must be a whole number from %d to %d, not %q", name, lo, hi, v)
	}
	return n, nil
}

func boolSetting(getenv func(string) string, name string, fallback bool) (bool, error) {
	v := getenv(name)
	if v == "" {
		return fallback, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s must be true or false, not %q", name, v)
	}
	return b, nil
}

func rateSetting(getenv func(string) string, name string, fallback float64) (float64, error) {
	v := getenv(name)
	if v == "" {
		return fallback, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f > 0 && f <= 1e6) {
		return 0, fmt.Errorf("%s must be a number above 0 (per second), not %q", name, v)
	}
	return f, nil
}

func onOffSetting(getenv func(string) string, name string, fallback bool) (bool, error) {
	switch v := strings.ToLower(getenv(name)); v {
	case "":
		return fallback, nil
	case "on", "true", "1":
		return true, nil
	case "off", "false", "0":
		return false, nil
	default:
		return false, fmt.Errorf("%s must be on or off, not %q", name, v)
	}
}

func durationSetting(getenv func(string) string, name string, fallback time.Duration) (time.Duration, error) {
	v := getenv(name)
	if v == "" {
		return fallback, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > time.Hour {
		return 0, fmt.Errorf("%s must be a duration like 5s or 500ms (at most 1h), not %q", name, v)
	}
	return d, nil
}
