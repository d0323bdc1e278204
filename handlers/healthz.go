package handlers

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

const (
	// healthTimeout bounds how long the health check waits for the store,
	// well under the few seconds a router's health probe allows.
	healthTimeout = 2 * time.Second
	// recentWrite: a message stored this recently shows that writes work,
	// and the health check need not try one.
	recentWrite = 5 * time.Second
	// probeEvery bounds how often health checks try a write, however often
	// they come.
	probeEvery = time.Second
)

// writeChecker is a store that can prove it takes writes without storing
// anything (see store.SQLite.CheckWrite).
type writeChecker interface {
	CheckWrite(ctx context.Context) error
}

// writeHealth remembers how the last write went: a message posted, or a
// health check's trial write.
type writeHealth struct {
	mu     sync.Mutex
	at     time.Time
	err    error
	probed time.Time // when a health check last tried a write
}

func (w *writeHealth) record(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.at, w.err = time.Now(), err
}

// healthz answers 200 when the store can be read and written, 503 when it
// cannot. Writes are judged by the last one, if it was recent and worked;
// otherwise (none lately, or the last failed and may have recovered since)
// by a trial write, at most one per probeEvery.
//
// The checks run to their end even if the caller gives up first (a probe's
// own timeout, a load tool's poll during a restart): its leaving says
// nothing of the store, and a trial write cut short by it would be logged
// as the store failing, and recorded so, making the next checks answer 503
// for nothing.
func (s *server) healthz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), healthTimeout)
	defer cancel()
	if err := s.Store.Ping(ctx); err != nil {
		s.Logger.Error("health check: store does not answer", "err", err)
		return c.String(http.StatusServiceUnavailable, "store unavailable\n")
	}
	if err := s.checkWrites(ctx); err != nil {
		s.Logger.Error("health check: store does not take writes", "err", err)
		return c.String(http.StatusServiceUnavailable, "store unavailable: writes are failing\n")
	}
	return c.String(http.StatusOK, "ok\n")
}

func (s *server) checkWrites(ctx context.Context) error {
	checker, ok := s.Store.(writeChecker)
	w := &s.writeHealth
	w.mu.Lock()
	now := time.Now()
	recent := now.Sub(w.at) < recentWrite
	if (recent && w.err == nil) || !ok || now.Sub(w.probed) < probeEvery {
		err := w.err
		if !recent {
			err = nil // nothing known lately, and no trial allowed yet
		}
		w.mu.Unlock()
		return err
	}
	w.probed = now
	w.mu.Unlock()
	err := checker.CheckWrite(ctx)
	w.record(err)
	return err
}
