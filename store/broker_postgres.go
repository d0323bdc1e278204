package store

// PostgreSQL is the broker between instances (see stream.Broker): a message's
// id is announced with NOTIFY in the transaction that stores it, and every
// instance LISTENs on a connection of its own and reads by id.

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const (
	// followPage bounds one catch-up read, so a follower far behind (after a
	// long disconnect) neither holds a huge result nor blocks for long.
	followPage = 500
	// followIdleCheck: after this long without a notification, read anyway.
	// The read proves the connection still works (a silently dropped TCP
	// connection would otherwise be waited on forever) and picks up a row
	// whose notification never came.
	followIdleCheck = 30 * time.Second
	// followConnectTimeout keeps one unanswered connect from stalling the
	// reconnect loop when the URL sets no connect_timeout.
	followConnectTimeout = 10 * time.Second
	// Reconnect waits double from followMinBackoff: quick after a one-off
	// cut. They grow to followMaxBackoff when connecting fails for a reason
	// that may last (a timeout, a refused login), but only to
	// followRestartPoll while the server is plainly restarting (nothing
	// listening, or "starting up"): such a refusal costs it little, and live
	// delivery then resumes within about that long of the server taking
	// connections again.
	followMinBackoff  = 50 * time.Millisecond
	followRestartPoll = 250 * time.Millisecond
	followMaxBackoff  = 5 * time.Second
)

// Follow calls deliver, in id order and exactly once each, for every message
// with id > afterID, including messages stored through other instances on the
// same database. It returns when ctx ends (with ctx.Err()) or when the store
// is closed (with nil).
//
// deliver runs on Follow's goroutine: while it runs nothing else is read, so
// it should hand the message on rather than do slow work.
//
// Follow listens on a connection of its own. When that connection fails it
// reconnects with backoff and reads every row after the last one delivered,
// so a cut loses nothing and repeats nothing. Errors on the way are not
// returned: a follower that gave up would silently stop the chat.
func (p *Postgres) Follow(ctx context.Context, afterID int64, deliver func(Message)) error {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(p.closed, cancel)
	defer stop()

	f := &follower{config: p.followConfig, idle: p.followIdle, last: afterID, deliver: deliver, changes: p.changes.call, log: p.log}
	for ctx.Err() == nil {
		worked, err := f.follow(ctx)
		if ctx.Err() != nil {
			break
		}
		if worked {
			f.failures = 0 // the connection worked; this cut is news, not a pattern
		}
		wait := followBackoff(f.failures, !worked && restarting(err))
		f.failures++
		switch {
		case worked:
			f.log.Warn("following new messages: connection lost", "err", err, "reconnecting_in", wait.Round(time.Millisecond))
		case f.failures&(f.failures-1) == 0:
			// Attempts 1, 2, 4, 8...: polling a restarting server, a line
			// per attempt would be several a second.
			f.log.Warn("following new messages: could not reconnect", "attempt", f.failures, "err", err, "retrying_in", wait.Round(time.Millisecond))
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
		case <-timer.C:
		}
	}
	return parent.Err()
}

// followBackoff is the wait before reconnect attempt n (counted from 0):
// somewhere between half and all of the doubled delay, at random, so instances
// cut off together do not all reconnect in the same instant. The delay stops
// growing at followRestartPoll while the server is restarting, at
// followMaxBackoff otherwise.
func followBackoff(attempt int, restarting bool) time.Duration {
	limit := followMaxBackoff
	if restarting {
		limit = followRestartPoll
	}
	d := limit
	if attempt < 16 { // beyond that the shift would overflow; the cap applies anyway
		d = min(followMinBackoff<<attempt, limit)
	}
	return d/2 + rand.N(d/2+1)
}

// restarting reports whether a failed connect says the server is on its
// way back: nothing listens at its address, or it answers that it cannot
// take connections yet (starting up, shutting down, recovering).
func restarting(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "57P03" // cannot_connect_now
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// follower is the state one Follow call keeps across reconnects.
type follower struct {
	config  *pgx.ConnConfig
	idle    time.Duration // read anyway after this long without a notification
	last    int64         // id of the last message delivered
	deliver func(Message)
	changes func(Change)
	log     *slog.Logger
	// failures counts connections lost or refused in a row: the attempt
	// number in the log, and what sets the backoff.
	failures int
	// lastRead is when catchUp last read the table.
	lastRead time.Time
}

// follow runs one connection until it fails or ctx ends. It reports whether
// the connection got as far as listening and catching up, and why it ended.
func (f *follower) follow(ctx context.Context) (worked bool, err error) {
	connectCtx, cancel := context.WithTimeout(ctx, followConnectTimeout)
	conn, err := pgx.ConnectConfig(connectCtx, f.config)
	cancel()
	if err != nil {
		return false, err
	}
	defer func() {
		// ctx may be over already; the goodbye still gets a moment.
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(closeCtx)
	}()

	// LISTEN before the first read: a message committed in between is then
	// both read and notified (one extra, empty read), never neither.
	for _, channel := range []string{notifyChannel, changesChannel} {
		if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
			return false, err
		}
	}
	caughtUp, err := f.catchUp(ctx, conn)
	if err != nil {
		return false, err
	}
	if f.failures > 0 {
		f.log.Info("following new messages: reconnected", "attempt", f.failures, "caught_up", caughtUp)
	}

	for {
		waitCtx, cancel := context.WithTimeout(ctx, f.idle)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return true, ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			// Idle: the read below checks the connection.
		case err != nil:
			return true, err
		case n.Channel == changesChannel:
			if c, err := decodeChange(n.Payload); err != nil {
				f.log.Warn("following changes", "err", err)
			} else {
				f.changes(c)
			}
			if time.Since(f.lastRead) < f.idle {
				continue
			}
			// A steady flow of changes never leaves the wait idle: the
			// read that checks the connection is due all the same.
		case f.delivered(n.Payload):
			// A burst of posts can leave notifications queued for rows the
			// last read already returned; reading again would find nothing.
			continue
		}
		if _, err := f.catchUp(ctx, conn); err != nil {
			return true, err
		}
	}
}

// delivered reports whether a notification names a row already delivered.
// The payload only ever saves a read; rows themselves come from the table.
func (f *follower) delivered(payload string) bool {
	id, err := strconv.ParseInt(payload, 10, 64)
	return err == nil && id <= f.last
}

// catchUp delivers every committed row after the last one delivered. AddMessage
// commits in id order, so once a row is seen no lower id can appear later.
func (f *follower) catchUp(ctx context.Context, conn *pgx.Conn) (delivered int, err error) {
	f.lastRead = time.Now()
	for {
		msgs, err := messagesAfter(ctx, conn, f.last, followPage)
		if err != nil {
			return delivered, err
		}
		for _, m := range msgs {
			if err := ctx.Err(); err != nil {
				return delivered, err
			}
			f.deliver(m)
			f.last = m.ID
			delivered++
		}
		if len(msgs) < followPage {
			return delivered, nil
		}
	}
}
