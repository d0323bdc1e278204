package presence

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"time"
)

const (
	// tick is how often changes are gathered and published: short enough
	// to feel live, long enough that a crowd arriving at once becomes one
	// update per stream rather than one per arrival.
	tick = 250 * time.Millisecond
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

// Run publishes changes in who is online until ctx ends. With a directory it
// also records this instance's arrivals and departures there, reads
// everyone's, and on the way out removes this instance's people. Once it
// has handed them over (see HandOver) it returns at once.
func (r *Roster) Run(ctx context.Context, log *slog.Logger) {
	defer close(r.stopped)
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	if r.dir == nil {
		for {
			select {
			case <-ctx.Done():
				return
			case req := <-r.handover:
				err := r.keep(req.ctx)
				req.done <- err
				if err == nil {
					return
				}
			case now := <-ticker.C:
				r.mu.Lock()
				r.lapse(now)
				dirty := r.dirty
				r.dirty = false
				var counted []string
				if dirty {
					counted = r.countedSorted()
				}
				r.mu.Unlock()
				if dirty {
					r.publish(counted)
				}
			}
		}
	}

	call := func(what string, f func(ctx context.Context) error) bool {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), directoryTimeout)
		defer cancel()
		if err := f(ctx); err != nil {
			log.Warn("presence: "+what, "err", err)
			return false
		}
		return true
	}
	var lastPoll, lastRefresh time.Time
	call("refreshing", func(ctx context.Context) error { return r.dir.Refresh(ctx, nil) })
	for {
		select {
		case <-ctx.Done():
			call("leaving the directory", func(ctx context.Context) error { return r.dir.Refresh(ctx, nil) })
			return
		case req := <-r.handover:
			err := r.linger(req.ctx)
			req.done <- err
			if err == nil {
				return // its records lapse by themselves
			}
			// Not handed over: carry on, and leave the directory at the end.
		case o := <-r.ops:
			r.write(o, call)
		case now := <-ticker.C:
			r.write(op{}, call)
			// Before here is read: a drop after this is healed next tick.
			lost := r.lost.Swap(false)
			r.mu.Lock()
			dirty := r.dirty
			r.dirty = false
			here := r.countedSorted()
			r.mu.Unlock()
			if lost || now.Sub(lastRefresh) >= refreshInterval {
				if call("refreshing", func(ctx context.Context) error { return r.dir.Refresh(ctx, here) }) {
					lastRefresh = now
				} else if lost {
					r.lost.Store(true) // try again next tick
				}
			}
			if !dirty && now.Sub(lastPoll) < pollInterval {
				continue
			}
			var online []string
			if call("reading who is online", func(ctx context.Context) (err error) {
				online, err = r.dir.Online(ctx)
				return err
			}) {
				lastPoll = now
				r.publish(online)
			}
		}
	}
}

// write records first (if it has an email) and every arrival and departure
// waiting behind it, in one call of each: for each person the last of
// their ops is what holds now.
func (r *Roster) write(first op, call func(string, func(context.Context) error) bool) {
	last := map[string]bool{}
	if first.email != "" {
		last[first.email] = first.arrive
	}
	for more := true; more; {
		select {
		case o := <-r.ops:
			last[o.email] = o.arrive
		default:
			more = false
		}
	}
	var arrived, departed []string
	for email, arrive := range last {
		if arrive {
			arrived = append(arrived, email)
		} else {
			departed = append(departed, email)
		}
	}
	if len(arrived) > 0 {
		call("recording arrivals", func(ctx context.Context) error { return r.dir.Arrive(ctx, arrived) })
	}
	if len(departed) > 0 {
		call("recording departures", func(ctx context.Context) error { return r.dir.Depart(ctx, departed) })
	}
}

// keep records who this instance counts as online, for the process that
// replaces it, if there is a keeper.
func (r *Roster) keep(ctx context.Context) error {
	if r.keeper == nil {
		return nil
	}
	r.mu.Lock()
	r.lapse(time.Now())
	counted := r.countedSorted()
	r.mu.Unlock()
	return r.keeper.KeepOnline(ctx, counted)
}

// linger brings this instance's records up to date (the writes waiting, or
// a whole refresh if some were dropped) and has them lapse after the
// handover, all within ctx.
func (r *Roster) linger(ctx context.Context) error {
	var failed error
	r.write(op{}, func(what string, f func(context.Context) error) bool {
		if err := f(ctx); err != nil {
			failed = cmp.Or(failed, fmt.Errorf("presence: %s: %w", what, err))
			return false
		}
		return true
	})
	if failed != nil {
		return failed
	}
	if r.lost.Load() {
		r.mu.Lock()
		here := r.countedSorted()
		r.mu.Unlock()
		if err := r.dir.Refresh(ctx, here); err != nil {
			return err
		}
	}
	return r.dir.Linger(ctx, r.handoverFor)
}
