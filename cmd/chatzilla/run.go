package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/chatzilla/chatzilla/assets"
	"github.com/chatzilla/chatzilla/handlers"
	"github.com/chatzilla/chatzilla/mail"
	"github.com/chatzilla/chatzilla/presence"
	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/stream"
)

// shutdownTimeout is how long requests in flight get to finish after SIGTERM.
// Heroku kills a dyno 30 s after SIGTERM; we promise to be gone within 10 s.
const shutdownTimeout = 8 * time.Second

// handOverTimeout bounds the write of who is online at shutdown, which the
// listener waits for: a new process would rather announce a few people
// joining than wait for a slow database.
const handOverTimeout = time.Second

// appStore is what run needs of either store: the history, the session
// records and the broker between instances.
type appStore interface {
	handlers.MessageStore
	handlers.RoomStore
	handlers.SessionRecords
	stream.History
	handlers.SignInStore
	handlers.PeopleStore
	stream.Broker
	stream.Changes
	DeleteSignInTokensBefore(ctx context.Context, before time.Time) (int64, error)
	// RoomsOfMany reads the rooms of the people with streams open, for
	// their unread counts (stream.Config's Rooms).
	RoomsOfMany(ctx context.Context, emails []string) (map[string][]store.RoomState, error)
	Close() error
}

// run starts Chatzilla and blocks until ctx ends or SIGINT/SIGTERM arrives,
// then shuts down gracefully.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet(args[0], flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() { printUsage(stdout) }
	if err := flags.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}

	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	lines := newLimitedHandler(slog.NewTextHandler(stdout, nil), linesPerSecond)
	defer lines.flush() // the last counts, before the process ends
	log := slog.New(lines)

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	if cfg.SessionSecretFile != "" {
		secret, created, err := devSessionSecret(cfg.SessionSecretFile)
		if err != nil {
			return err
		}
		cfg.SessionSecret = secret
		how := "kept from an earlier run"
		if created {
			how = "made now"
		}
		log.Info("SESSION_SECRET is not set: using the development secret in "+cfg.SessionSecretFile+" ("+how+"); set SESSION_SECRET in production", "file", cfg.SessionSecretFile)
	}
	files, err := assets.Embedded()
	if err != nil {
		return err
	}
	if !files.Has(assets.HTMX) {
		log.Warn("htmx is not built in (run `make assets`): pages work as plain forms, without live updates")
	}

	// Every connection holds a descriptor: past the process's limit accept
	// would fail for everyone, so connections are capped below it (and the
	// extra ones get a clean 503), and streams below that (see plan).
	openFiles, err := raiseOpenFileLimit()
	if err != nil {
		log.Warn("could not raise the open-file limit", "err", err)
		openFiles = 0
	}
	limits := plan(openFiles, cfg)
	if cfg.TrustProxy {
		// Every connection comes from the router: counting them per
		// address would count them all as one.
		limits.connsPerAddress = 0
	}
	// No TCP keep-alive probes: a stream is never idle long enough for one
	// (its heartbeat comes first), a connection idle between requests is
	// closed by IdleTimeout, and the probes' settings cost four system
	// calls on every connection accepted, a tenth of a reconnect after a
	// restart.
	ln, err := (&net.ListenConfig{KeepAlive: -1}).Listen(ctx, "tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		return err
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	log.Info("listening", "addr", ln.Addr().String())
	var conns *limitListener
	if limits.conns > 0 {
		conns = newLimitListener(ln, limits.conns, limits.connsPerAddress)
		stopReaping := make(chan struct{})
		defer close(stopReaping)
		go conns.closeIdleWhenCrowded(stopReaping)
		ln = conns
	}
	// Connections are taken from now on, and wait in the queue until the
	// server is ready: after a restart, pages that reconnect while the
	// store opens and the recent messages load are answered once it is,
	// instead of being refused and trying again a second or more later.
	// (Heroku, too, routes to a process once it listens.)
	ln = newEagerListener(ln, acceptQueue)
	defer ln.Close() // Shutdown closes it too; this is for an early return

	st, who, err := openStore(ctx, cfg.Database, log)
	if err != nil {
		return err
	}
	defer st.Close()

	if !cfg.FloodControl {
		log.Warn("RATE_LIMITS=off: flood control is disabled")
	}

	// The live path: every stored message reaches the streams through the
	// broker, in id order (in process for SQLite, with a look every 200 ms
	// for another process's; through LISTEN/NOTIFY for
	// PostgreSQL, where it also brings other instances' messages).
	live := stream.NewPipeline(stream.Config{
		Broker:        st,
		History:       st,
		Directory:     who.directory,
		Keeper:        who.keeper,
		PresenceGrace: cfg.PresenceGrace,
		Logger:        log,
		MaxReplay:     cfg.MaxReplay,
		Unverified:    cfg.SignIn != "email",
		Names:         st.DisplayNames,
		Members:       st.RoomMembers,
		Rooms:         st.RoomsOfMany,
		Changes:       st,
	})
	stopLive, err := live.Start(ctx)
	if err != nil {
		return err
	}
	defer stopLive()

	// Sign-in mail goes out from a queue of its own, off the request path.
	var outbox *mail.Outbox
	if cfg.SMTPURL != "" {
		sender, err := mail.Open(cfg.SMTPURL, cfg.MailFrom, log)
		if err != nil {
			return err
		}
		outbox = mail.NewOutbox(sender, log)
		mailCtx, stopMail := context.WithCancel(context.WithoutCancel(ctx))
		mailDone := make(chan struct{})
		go func() { defer close(mailDone); outbox.Run(mailCtx) }()
		go forgetOldLinks(mailCtx, st, log)
		defer func() { stopMail(); <-mailDone }()
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://localhost:" + port
	}
	log.Info("sign-in", "mode", cfg.SignIn, "public_url", cfg.PublicURL)

	// What requests leave running ends before the store closes (deferred
	// above, so it runs after this).
	var background sync.WaitGroup
	defer background.Wait()
	srv := &http.Server{
		Handler: handlers.New(handlers.Options{
			Store:            st,
			Rooms:            st,
			Live:             live,
			Sessions:         handlers.NewSessionStore(cfg.SessionSecret, nonEmpty(cfg.SessionSecretOld)...),
			SessionRecords:   st,
			Assets:           files,
			Logger:           log,
			HistorySize:      cfg.HistorySize,
			MaxMessageLength: cfg.MaxMessageLength,
			EmailSignIn:      cfg.SignIn == "email",
			SignIn:           st,
			People:           st,
			Mailer:           outbox,
			PublicURL:        cfg.PublicURL,
			Background:       &background,
			TrustProxy:       cfg.TrustProxy,
			TrustedHops:      cfg.TrustProxyHops,
			Limits: handlers.Limits{
				FloodControl:         cfg.FloodControl,
				MessagesPerSecond:    cfg.MessageRate,
				MessageBurst:         cfg.MessageBurst,
				JoinsPerSecond:       cfg.JoinRate,
				JoinBurst:            cfg.JoinBurst,
				MaxStreams:           limits.streams,
				MaxStreamsPerSession: cfg.MaxStreamsPerSession,
				MaxStreamsPerAddress: limits.streamsPerAddress,
				StreamOpensPerSecond: cfg.StreamOpenRate,
				StreamOpenBurst:      cfg.StreamOpenBurst,
			},
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Streams extend their own deadline before each write.
		WriteTimeout: 30 * time.Second,
		IdleTimeout:  idleTimeout,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if conns != nil {
		srv.ConnState = conns.connState
	}
	// The URL comes last on the line, so a terminal makes it a link that
	// ends where it does.
	log.Info("chatzilla started", "addr", ln.Addr().String(), "database", cfg.Database.Kind, "history_size", cfg.HistorySize,
		"max_connections", limits.conns, "max_streams", limits.streams,
		"connections_per_address", limits.connsPerAddress, "streams_per_address", limits.streamsPerAddress,
		"url", "http://localhost:"+port)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		// Requests still running end before the store closes (and before
		// the wait for what they left running).
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	// Who is online is kept for the process that replaces this one before
	// the listener closes, so that a process started once it is free finds
	// it: their pages reconnect to it, and are not announced as joining.
	handCtx, cancelHand := context.WithTimeout(context.WithoutCancel(ctx), handOverTimeout)
	if err := live.Roster().HandOver(handCtx); err != nil {
		log.Warn("shutdown: keeping who is online for the next process", "err", err)
	}
	cancelHand()
	// Streams never finish by themselves, and the server does not track
	// them (they are hijacked): end them first and wait for them to close
	// (browsers reconnect, to another instance if there is one), then let
	// the remaining requests finish.
	// Stop taking connections first: pages then reconnect to the process
	// that replaces this one (or to another instance) instead of to this
	// one, which would refuse them while its streams end.
	if err := ln.Close(); err != nil {
		log.Warn("shutdown: closing the listener", "err", err)
	}
	live.Close()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := live.Wait(shutdownCtx); err != nil {
		log.Error("shutdown: streams still open were cut off", "err", err)
	}
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, net.ErrClosed) { // the listener is closed already
		log.Error("shutdown: requests still running were cut off", "err", err)
		_ = srv.Close()
	}
	log.Info("stopped")
	return nil
}

// forgetOldLinks deletes sign-in tokens a day past their expiry, hourly:
// they can no longer be used, and a page saying "expired" rather than
// "unknown" only matters for a while.
func forgetOldLinks(ctx context.Context, st appStore, log *slog.Logger) {
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(time.Hour):
			if _, err := st.DeleteSignInTokensBefore(ctx, time.Now().Add(-24*time.Hour)); err != nil {
				log.Warn("forgetting old sign-in links", "err", err)
			}
		}
	}
}

// onlineRecords is where a store keeps who is online: for PostgreSQL the
// directory every instance shares, for SQLite's one instance a list kept
// across its restarts.
type onlineRecords struct {
	directory presence.Directory
	keeper    presence.Keeper
}

// openStore opens the configured store, and says where it keeps who is
// online.
func openStore(ctx context.Context, db database, log *slog.Logger) (appStore, onlineRecords, error) {
	switch db.Kind {
	case "postgres":
		pg, err := store.OpenPostgres(ctx, db.URL)
		if err != nil {
			return nil, onlineRecords{}, err
		}
		pg.LogTo(log)
		return pg, onlineRecords{directory: pg.Presence(rand.Text())}, nil
	default:
		lite, err := store.OpenSQLite(ctx, db.Path)
		if err != nil {
			return nil, onlineRecords{}, err
		}
		return lite, onlineRecords{keeper: lite}, nil
	}
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, v := range s {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}
