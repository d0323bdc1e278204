package presence

import (
	"context"
	"log/slog"
	"time"
)

const (
	// pollInterval is how often the directory is read for people arriving
	// and leaving on other instances: the delay before they show here.
	pollInterval = time.Second
	// refreshInterval keeps this instance's records alive; the directory
	// forgets an instance that has not refreshed for a few of these.
	refreshInterval = 10 * time.Second
	// directoryTimeout bounds one directory call, so a hung database does
	// not stall presence for long.
	directoryTimeout = 5 * time.Second
)

// Run keeps the room in step with the directory until ctx ends, then
// removes this instance's people from it. Without a directory it just waits.
func (r *Room) Run(ctx context.Context, log *slog.Logger) {
	if r.dir == nil {
		<-ctx.Done()
		return
	}
	poll := time.NewTicker(pollInterval)
	defer poll.Stop()
	refresh := time.NewTicker(refreshInterval)
	defer refresh.Stop()
	call := func(what string, f func(ctx context.Context) error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), directoryTimeout)
		defer cancel()
		if err := f(ctx); err != nil {
			log.Warn("presence: "+what, "err", err)
		}
	}
	sync := func() {
		r.publish(func() []string {
			var online []string
			call("reading who is online", func(ctx context.Context) (err error) {
				online, err = r.dir.Online(ctx)
				if online == nil && err == nil {
					online = []string{}
				}
				return err
			})
			return online
		})
	}
	call("refreshing", func(ctx context.Context) error { return r.dir.Refresh(ctx, nil) })
	for {
		select {
		case <-ctx.Done():
			call("leaving the directory", func(ctx context.Context) error { return r.dir.Refresh(ctx, nil) })
			return
		case o := <-r.ops:
			if o.arrive {
				call("recording an arrival", func(ctx context.Context) error { return r.dir.Arrive(ctx, o.email) })
			} else {
				call("recording a departure", func(ctx context.Context) error { return r.dir.Depart(ctx, o.email) })
			}
			sync()
		case <-poll.C:
			sync()
		case <-refresh.C:
			r.mu.Lock()
			here := r.hereSorted()
			r.mu.Unlock()
			call("refreshing", func(ctx context.Context) error { return r.dir.Refresh(ctx, here) })
		}
	}
}
