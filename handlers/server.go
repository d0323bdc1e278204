// Package handlers is Chatzilla's HTTP surface: pages, forms and the live
// message stream. New builds it from its dependencies; routes.go lists every
// route.
package handlers

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/a-h/templ"
	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"github.com/chatzilla/chatzilla/assets"
	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/stream"
	"github.com/chatzilla/chatzilla/views"
)

// MessageStore is the history the handlers read and append to, which the
// streams replay.
type MessageStore interface {
	// AddMessageIn stores a message in the room unless the sender has one
	// stored under key already ("" is no key).
	AddMessageIn(ctx context.Context, roomID int64, a store.Author, content, key string) (store.Message, error)
	stream.History
	// RoomRecentMessages is the page's list: the room's latest limit.
	RoomRecentMessages(ctx context.Context, room int64, limit int) ([]store.Message, error)
	Ping(ctx context.Context) error
}

// SessionRecords keep every session: the cookie carries only its id.
type SessionRecords interface {
	StartSession(ctx context.Context, id, email string) error
	Session(ctx context.Context, id string) (store.Session, error)
	TouchSession(ctx context.Context, id string) error
	EndSession(ctx context.Context, id string) error
	EndSessionsOf(ctx context.Context, email string) error
	EndedSessions(ctx context.Context, within time.Duration) ([]string, error)
}

// Options are the server's dependencies and settings.
type Options struct {
	Store MessageStore
	// Rooms keeps the rooms and who has read what (the same store as
	// Store, in run).
	Rooms RoomStore
	// Live is the live path: every stream, and who is online.
	Live *stream.Pipeline
	// Sessions encodes the session cookie (signed and encrypted);
	// SessionRecords say whether the session in it is still open.
	Sessions       sessions.Store
	SessionRecords SessionRecords
	Assets         *assets.Assets
	Logger         *slog.Logger

	HistorySize      int // messages shown when the page loads
	MaxMessageLength int // in characters

	// TrustProxy says the app runs behind a router (Heroku's) that sets
	// X-Forwarded-For and X-Forwarded-Proto; otherwise those headers are
	// ignored, since any client could send them.
	TrustProxy bool
	// TrustedHops is how many proxies in front of the app append to
	// X-Forwarded-For (Heroku: 1); used with TrustProxy, 0 means 1.
	TrustedHops int

	Limits Limits

	// EmailSignIn mails a one-time link to join (SIGN_IN=email); otherwise
	// anyone may join as any address, unverified (SIGN_IN=open).
	EmailSignIn bool
	SignIn      SignInStore
	People      PeopleStore
	Mailer      Mailer
	// PublicURL is where the app is reached (PUBLIC_URL), with no trailing
	// slash: sign-in links are built from it, never from the request.
	PublicURL string
	// Background counts the work requests leave running after they are
	// answered (a session's "last seen"): wait for it, once the server has
	// shut down, before closing the stores. Nil: a WaitGroup of New's own.
	Background *sync.WaitGroup
}

// Limits bound what one session, one client address and everyone together
// may do.
type Limits struct {
	// FloodControl turns the token buckets below on. Off only for load
	// tests on a trusted network.
	FloodControl bool
	// MessagesPerSecond and MessageBurst size the bucket each session and
	// each client address has for posting messages.
	MessagesPerSecond float64
	MessageBurst      int
	// JoinsPerSecond and JoinBurst size each client address's bucket for
	// joining.
	JoinsPerSecond float64
	JoinBurst      int
	// MaxStreams bounds open streams in all; MaxStreamsPerSession bounds
	// one session's (tabs of one browser), MaxStreamsPerAddress one client
	// address's (0: no cap).
	MaxStreams           int
	MaxStreamsPerSession int
	MaxStreamsPerAddress int
	// StreamOpensPerSecond and StreamOpenBurst size each session's bucket
	// for opening streams; each address's bucket refills addressOpensFactor
	// times as fast and holds MaxStreamsPerAddress (or StreamOpenBurst, if
	// larger), so an office reconnecting after a restart gets through.
	// 0 opens per second: not limited.
	StreamOpensPerSecond float64
	StreamOpenBurst      int
}

// linksPerAddressPerHour bounds the sign-in links one client address may
// ask for in an hour, whatever the addresses they go to: an office shares
// one, a script that mails strangers gets few.
const linksPerAddressPerHour = 30

// roomsPerSessionPerHour and roomsBurst bound the rooms and direct
// conversations one session may make or open (each a write, and a row
// that stays): plenty for a person, few for a script.
const (
	roomsPerSessionPerHour = 60
	roomsBurst             = 20
)

// readsPerSecond and readsBurst bound one session's reports of what it
// read (each a write): a page sends one every 2 s at most, and a person has
// a few tabs.
const (
	readsPerSecond = 5
	readsBurst     = 20
)

// addressOpensFactor is how many sessions' worth of stream opens one client
// address gets: many people may share an address, but far fewer reconnect
// in the same second than there are streams open.
const addressOpensFactor = 25

type server struct {
	Options
	page views.Page

	messageFlood, joinFlood         *buckets
	streamFlood, addressStreamFlood *buckets
	linkFlood                       *buckets
	roomFlood, addressRoomFlood     *buckets
	readFlood                       *buckets
	streams                         *streamSlots
	sessionStreams                  sessionStreams
	writeHealth                     writeHealth
	rooms                           knownRooms
	touching                        sync.Map // ids of sessions being touched (see touch)
}

// New returns the Chatzilla HTTP handler.
func New(o Options) *echo.Echo {
	if o.Background == nil {
		o.Background = &sync.WaitGroup{}
	}
	s := &server{
		Options:      o,
		page:         pageAssets(o.Assets),
		messageFlood: newBuckets(o.Limits.MessagesPerSecond, o.Limits.MessageBurst),
		joinFlood:    newBuckets(o.Limits.JoinsPerSecond, o.Limits.JoinBurst),
		linkFlood:    newBuckets(linksPerAddressPerHour/3600.0, linksPerAddressPerHour),
		roomFlood:    newBuckets(roomsPerSessionPerHour/3600.0, roomsBurst),
		// An office shares an address: ten people's worth.
		addressRoomFlood: newBuckets(10*roomsPerSessionPerHour/3600.0, 10*roomsBurst),
		readFlood:        newBuckets(readsPerSecond, readsBurst),
		streams:          newStreamSlots(o.Limits),
	}
	if l := o.Limits; l.StreamOpensPerSecond > 0 {
		s.streamFlood = newBuckets(l.StreamOpensPerSecond, l.StreamOpenBurst)
		s.addressStreamFlood = newBuckets(l.StreamOpensPerSecond*addressOpensFactor, max(l.MaxStreamsPerAddress, l.StreamOpenBurst))
	}
	s.sessionStreams.ended = o.SessionRecords.EndedSessions
	s.sessionStreams.logf = o.Logger.Warn
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	hops := 0
	if o.TrustProxy {
		hops = max(1, o.TrustedHops)
	}
	e.IPExtractor = clientAddress(hops)
	s.routes(e)
	return e
}

func pageAssets(a *assets.Assets) views.Page {
	p := views.Page{StylesheetURL: a.URL(assets.Stylesheet), IconURL: a.URL(assets.Icon)}
	if a.Has(assets.HTMX) {
		p.ScriptURLs = []string{a.URL(assets.HTMX), a.URL(assets.Script)}
	}
	return p
}

// render writes a component with a status. It renders into a buffer first so
// that a failure becomes a clean error page rather than half a page.
func render(c echo.Context, status int, component templ.Component) error {
	var buf bytes.Buffer
	if err := component.Render(c.Request().Context(), &buf); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// isHTMX reports whether htmx sent the request, in which case it expects a
// fragment rather than a page or a redirect.
func isHTMX(c echo.Context) bool {
	return c.Request().Header.Get("HX-Request") == "true"
}

func seeOther(c echo.Context, to string) error {
	return c.Redirect(http.StatusSeeOther, to)
}

func messageViews(ms []store.Message) []views.Message {
	vs := make([]views.Message, len(ms))
	for i, m := range ms {
		vs[i] = stream.View(m)
	}
	return vs
}
