package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A setting is one environment variable Chatzilla reads. Their table is the
// one place that says each variable's default, what -h tells of it and how its
// value is checked, so the help and the parser cannot disagree.
type setting struct {
	name string
	def  string // the default, written as in the environment; "" for none
	help string
	// val checks the value and puts it into config; nil for the variables
	// loadConfig reads with code of its own (DYNO, SESSION_SECRET_FILE).
	val value
}

// A value checks one variable's text and sets its field of config. Its error
// names the variable.
type value interface {
	set(name, text string) error
}

// settings is every variable, in the order `chatzilla -h` lists them, each
// bound to its field of c.
func settings(c *config) []setting {
	return []setting{
		{"PORT", "5000", "TCP port to listen on (all interfaces)", intIn(&c.Port, 0, 65535)},
		{"DATABASE_URL", "sqlite:chatzilla.db", "where messages are kept: sqlite:PATH, or postgres://... / postgresql://... for PostgreSQL (required on Heroku)", databaseURL{&c.Database}},
		{"SESSION_SECRET", "", fmt.Sprintf("secret (%d+ characters) that signs and encrypts session cookies; required in production, kept in SESSION_SECRET_FILE otherwise", minSecretLength), secret{&c.SessionSecret}},
		{"SESSION_SECRET_FILE", devSecretFile, "outside production, where a secret is made and kept when SESSION_SECRET is not set", nil},
		{"SESSION_SECRET_OLD", "", "previous SESSION_SECRET, still accepted while you rotate secrets", secret{&c.SessionSecretOld}},
		{"HISTORY_SIZE", "100", "how many recent messages a page shows", intIn(&c.HistorySize, 1, 1000).inHelp()},
		{"MESSAGE_MAX_LENGTH", "2000", "longest message in characters", intIn(&c.MaxMessageLength, 1, 10000).inHelp()},
		{"RATE_LIMITS", "on", "flood control on POST /messages and POST /join; off only for load tests on a trusted network", onOff{&c.FloodControl}},
		{"MESSAGE_RATE", "5", "messages per second each session and each client address may post, on average", rate{&c.MessageRate}},
		{"MESSAGE_BURST", "20", "messages a session or address may post at once before MESSAGE_RATE applies", intIn(&c.MessageBurst, 1, 10000)},
		{"JOIN_RATE", "1", "joins per second from one client address, on average", rate{&c.JoinRate}},
		{"JOIN_BURST", "10", "joins one client address may make at once", intIn(&c.JoinBurst, 1, 10000)},
		{"STREAMS_MAX", "50000", "open live streams in all (also capped by the open-file limit); beyond it 503", intIn(&c.MaxStreams, 1, 10000000)},
		{"STREAMS_PER_SESSION", "10", "open live streams (tabs) per session; beyond it 503", intIn(&c.MaxStreamsPerSession, 1, 10000)},
		{"STREAMS_PER_ADDRESS", "500", "open live streams per client address (IPv6: per /64), at most half of all; beyond it 503", intIn(&c.MaxStreamsPerAddress, 1, 10000000)},
		{"CONNECTIONS_PER_ADDRESS", "1000", "open connections per client address, at most half of all; beyond it 503 (not applied with TRUST_PROXY, where every connection comes from the router)", intIn(&c.MaxConnsPerAddress, 1, 10000000)},
		{"STREAM_OPEN_RATE", "2", "streams a session may open per second, on average (each address: 25 times as many); beyond it 429 (off with RATE_LIMITS=off)", rate{&c.StreamOpenRate}},
		{"STREAM_OPEN_BURST", "20", "streams a session may open at once before STREAM_OPEN_RATE applies (each address: STREAMS_PER_ADDRESS)", intIn(&c.StreamOpenBurst, 1, 10000)},
		{"REPLAY_MAX", "2000", "most missed messages a reconnecting stream replays; a page further behind is told to reload its list", intIn(&c.MaxReplay, 1, 1000000)},
		{"PRESENCE_GRACE", "5s", "how long someone stays in \"who's online\" after their last tab closed, so reloads and reconnects go unnoticed", durationUpTo{&c.PresenceGrace, time.Hour}},
		{"TRUST_PROXY", "false", "trust X-Forwarded-For and X-Forwarded-Proto from a router in front of the app", onHeroku("true", boolean{&c.TrustProxy})},
		{"TRUST_PROXY_HOPS", "1", "with TRUST_PROXY, how many proxies in front of the app append to X-Forwarded-For (Heroku's router is 1): the client address is taken that many entries from the right", intIn(&c.TrustProxyHops, 1, 10)},
		{"SIGN_IN", "", "how people join: email (a one-time sign-in link is mailed; verified) or open (type any address, unverified); default email when SMTP_URL is set, else open", oneOf{&c.SignIn, []string{"open", "email"}}},
		{"SMTP_URL", "", "where sign-in mail goes: smtp://USER:PASS@HOST:587 (STARTTLS when offered), smtps://USER:PASS@HOST:465, or log: to write each mail, link included, to the log", text{&c.SMTPURL}},
		{"MAIL_FROM", "Chatzilla <chatzilla@localhost>", "the From of sign-in mail", text{&c.MailFrom}},
		{"PUBLIC_URL", "", "the address people reach the app at, which sign-in links point to; default http://localhost:PORT; required on Heroku with SIGN_IN=email", publicURL{&c.PublicURL}},
		{"DYNO", "", "set by Heroku; its presence means production", nil},
	}
}

// fallback is the value a variable takes when it is not set.
func (s setting) fallback(production bool) string {
	if h, ok := s.val.(herokuDefault); ok && production {
		return h.def
	}
	return s.def
}

// defaultText is the default as -h and the README state it.
func (s setting) defaultText() string {
	if h, ok := s.val.(herokuDefault); ok {
		return s.def + " (" + h.def + " on Heroku)"
	}
	return s.def
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: chatzilla\n\nChatzilla is configured through the environment:")
	for _, s := range settings(new(config)) {
		help, def := s.help, ""
		if v, ok := s.val.(*intValue); ok && v.shown {
			help += fmt.Sprintf(" (%d-%d)", v.lo, v.hi)
		}
		if s.defaultText() != "" {
			def = " (default " + s.defaultText() + ")"
		}
		fmt.Fprintf(w, "  %-20s %s%s\n", s.name, help, def)
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
	SignIn                string // "open" or "email"
	SMTPURL, MailFrom     string
	PublicURL             string // no trailing slash; "" until run sets it
}

// database is a parsed DATABASE_URL.
type database struct {
	Kind string // "sqlite" or "postgres"
	// Path (SQLite) or URL (PostgreSQL).
	Path, URL string
}

// loadConfig reads and checks the configuration once, at start. Every error
// names the variable to fix.
func loadConfig(getenv func(string) string) (config, error) {
	var c config
	c.Production = getenv("DYNO") != ""
	if c.Production && getenv("DATABASE_URL") == "" {
		// Dyno disks are ephemeral and not shared between dynos.
		return c, errors.New("DATABASE_URL must point to PostgreSQL on Heroku: dyno disks are wiped on restart and not shared (heroku addons:create heroku-postgresql)")
	}
	for _, s := range settings(&c) {
		if s.val == nil {
			continue
		}
		text := getenv(s.name)
		if text == "" {
			text = s.fallback(c.Production)
		}
		if err := s.val.set(s.name, text); err != nil {
			return c, err
		}
	}
	if c.SessionSecret == "" {
		if c.Production {
			return c, errors.New("SESSION_SECRET must be set in production (heroku config:set SESSION_SECRET=$(openssl rand -hex 32))")
		}
		c.SessionSecretFile = cmp.Or(getenv("SESSION_SECRET_FILE"), devSecretFile)
	}
	if c.SignIn == "" {
		c.SignIn = "open"
		if c.SMTPURL != "" {
			c.SignIn = "email"
		}
	}
	if c.SignIn == "email" && c.SMTPURL == "" {
		return c, errors.New("SMTP_URL must be set with SIGN_IN=email, to send the links (SMTP_URL=log: writes them to the log, for development)")
	}
	// Left empty, PUBLIC_URL becomes http://localhost:PORT once run knows
	// the port it listens on (PORT=0 picks one).
	if c.PublicURL == "" && c.Production && c.SignIn == "email" {
		// From the request's Host instead, a forged header would mail
		// someone a working link to another site.
		return c, errors.New("PUBLIC_URL must be set on Heroku with SIGN_IN=email: sign-in links point to it (heroku config:set PUBLIC_URL=https://YOUR-APP.herokuapp.com)")
	}
	return c, nil
}

// intValue is a whole number from lo to hi.
type intValue struct {
	p      *int
	lo, hi int
	shown  bool // -h states the range
}

func intIn(p *int, lo, hi int) *intValue { return &intValue{p: p, lo: lo, hi: hi} }

// inHelp has -h state the range after the help text.
func (v *intValue) inHelp() *intValue {
	v.shown = true
	return v
}

func (v *intValue) set(name, text string) error {
	n, err := strconv.Atoi(text)
	if err != nil || n < v.lo || n > v.hi {
		return fmt.Errorf("%s must be a whole number from %d to %d, not %q", name, v.lo, v.hi, text)
	}
	*v.p = n
	return nil
}

// maxRate bounds every rate: more than a million a second is no limit at all.
const maxRate = 1e6

// rate is a number of events per second, above 0 and at most maxRate.
type rate struct{ p *float64 }

func (v rate) set(name, text string) error {
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || !(f > 0 && f <= maxRate) {
		return fmt.Errorf("%s must be a number above 0 (per second), not %q", name, text)
	}
	*v.p = f
	return nil
}

// durationUpTo is a duration from 0 to max.
type durationUpTo struct {
	p   *time.Duration
	max time.Duration
}

func (v durationUpTo) set(name, text string) error {
	d, err := time.ParseDuration(text)
	if err != nil || d < 0 || d > v.max {
		// "1h", not "1h0m0s".
		max := strings.TrimSuffix(strings.TrimSuffix(v.max.String(), "0s"), "0m")
		return fmt.Errorf("%s must be a duration like 5s or 500ms (at most %s), not %q", name, max, text)
	}
	*v.p = d
	return nil
}

type boolean struct{ p *bool }

func (v boolean) set(name, text string) error {
	b, err := strconv.ParseBool(text)
	if err != nil {
		return fmt.Errorf("%s must be true or false, not %q", name, text)
	}
	*v.p = b
	return nil
}

// onOff is a switch: on or off (also true/false, 1/0), in any case.
type onOff struct{ p *bool }

func (v onOff) set(name, text string) error {
	switch text = strings.ToLower(text); text {
	case "on", "true", "1":
		*v.p = true
	case "off", "false", "0":
		*v.p = false
	default:
		return fmt.Errorf("%s must be on or off, not %q", name, text)
	}
	return nil
}

// herokuDefault is a value whose default on Heroku is def, not the setting's.
type herokuDefault struct {
	value
	def string
}

func onHeroku(def string, v value) value { return herokuDefault{v, def} }

const minSecretLength = 32

// secret is a session secret of minSecretLength characters or more, or none.
type secret struct{ p *string }

func (v secret) set(name, text string) error {
	if text != "" && len(text) < minSecretLength {
		return fmt.Errorf("%s must be at least %d characters long", name, minSecretLength)
	}
	*v.p = text
	return nil
}

// oneOf is one of a few words.
type oneOf struct {
	p     *string
	words []string
}

func (v oneOf) set(name, text string) error {
	if text == "" {
		return nil // unset: loadConfig decides
	}
	if !slices.Contains(v.words, text) {
		return fmt.Errorf("%s must be %s, not %q", name, strings.Join(v.words, " or "), text)
	}
	*v.p = text
	return nil
}

// text is any text; what reads it checks it (SMTP_URL: mail.Open).
type text struct{ p *string }

func (v text) set(_, text string) error {
	*v.p = text
	return nil
}

// publicURL is an http(s) URL with a host and no path, query or fragment.
type publicURL struct{ p *string }

func (v publicURL) set(name, text string) error {
	if text == "" {
		return nil
	}
	u, err := url.Parse(strings.TrimSuffix(text, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%s must be like https://chat.example.com (scheme and host only), not %q", name, text)
	}
	*v.p = u.String()
	return nil
}

// databaseURL is sqlite:PATH, postgres://... or postgresql://....
type databaseURL struct{ p *database }

func (v databaseURL) set(name, text string) error {
	switch {
	case strings.HasPrefix(text, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(text, "sqlite:"), "//")
		if path == "" {
			return fmt.Errorf("%s %q names no file: use sqlite:PATH", name, text)
		}
		*v.p = database{Kind: "sqlite", Path: path}
	case strings.HasPrefix(text, "postgres://"), strings.HasPrefix(text, "postgresql://"):
		*v.p = database{Kind: "postgres", URL: text}
	default:
		return fmt.Errorf("%s must start with sqlite:, postgres:// or postgresql://", name)
	}
	return nil
}
