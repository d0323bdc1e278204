package mail

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// The outbox's limits. A sign-in link lives 15 minutes, so there is no point
// retrying for longer than a minute or so: by then the person has asked for
// another link or given up.
const (
	// queueSize bounds the mail waiting to be sent. Beyond it the relay is
	// down or far too slow, and more waiting mail would only be memory.
	queueSize = 1000
	// workers deliver side by side, so that one recipient's slow relay or
	// retries (about 20 s of backoff) do not hold up everyone else's link.
	workers = 4
	// attemptTimeout bounds one delivery, dial to QUIT.
	attemptTimeout = 30 * time.Second
	// jitter spreads retries by up to ±20% so that mails that failed
	// together do not all come back to the relay at the same instant.
	jitter = 0.2
)

// defaultBackoff is the wait before each retry; its length plus one is the
// number of attempts.
var defaultBackoff = []time.Duration{1 * time.Second, 4 * time.Second, 15 * time.Second}

// Outbox sends mail off the request path: a handler enqueues and answers at
// once, and workers started by Run deliver with retries and log each outcome.
type Outbox struct {
	sender         Sender
	log            *slog.Logger
	backoff        []time.Duration
	attemptTimeout time.Duration
	queue          chan Message

	// mu orders Enqueue against Run's end: once closed is set no Message
	// enters queue, so the drain at the end of Run sees every one left.
	mu     sync.Mutex
	closed bool
}

// OutboxOption changes an Outbox's limits; tests use them to run quickly.
type OutboxOption func(*Outbox)

// WithBackoff sets the waits between attempts: len(waits)+1 attempts in all.
// Each wait is spread by ±20% at random.
func WithBackoff(waits ...time.Duration) OutboxOption {
	return func(o *Outbox) { o.backoff = waits }
}

// WithQueueSize sets how many messages may wait to be sent.
func WithQueueSize(n int) OutboxOption {
	return func(o *Outbox) { o.queue = make(chan Message, n) }
}

// WithAttemptTimeout sets how long one delivery may take.
func WithAttemptTimeout(d time.Duration) OutboxOption {
	return func(o *Outbox) { o.attemptTimeout = d }
}

// NewOutbox returns an Outbox that delivers through s once Run is called.
// A nil log means slog.Default().
func NewOutbox(s Sender, log *slog.Logger, opts ...OutboxOption) *Outbox {
	if log == nil {
		log = slog.Default()
	}
	o := &Outbox{
		sender:         s,
		log:            log,
		backoff:        defaultBackoff,
		attemptTimeout: attemptTimeout,
		queue:          make(chan Message, queueSize),
	}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// Enqueue hands m to the workers and returns at once. It returns false, and
// logs at ERROR, when the queue is full or Run has ended: the mail is then
// dropped, and the caller may tell the person to try again later.
func (o *Outbox) Enqueue(m Message) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		o.log.Error("mail dropped: outbox stopped", "to", Mask(m.To))
		return false
	}
	select {
	case o.queue <- m:
		return true
	default:
		o.log.Error("mail dropped: outbox full", "to", Mask(m.To), "queued", cap(o.queue))
		return false
	}
}

// Run delivers queued mail until ctx ends, then returns promptly: a delivery
// under way is abandoned, and every mail not yet sent is logged as dropped.
// Call it once.
func (o *Outbox) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			// Once ctx ends no worker takes another mail, even if one is
			// ready (select would pick at random): what is left is dropped,
			// and logged so, by the drain below.
			for ctx.Err() == nil {
				select {
				case <-ctx.Done():
					return
				case m := <-o.queue:
					o.deliver(ctx, m)
				}
			}
		})
	}
	wg.Wait()

	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	for {
		select {
		case m := <-o.queue:
			o.log.Warn("mail dropped: shutting down", "to", Mask(m.To))
		default:
			return
		}
	}
}

// deliver tries m until it is sent, fails for good, runs out of attempts or
// ctx ends.
func (o *Outbox) deliver(ctx context.Context, m Message) {
	to := Mask(m.To)
	attempts := len(o.backoff) + 1
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, o.attemptTimeout)
		err := o.sender.Send(actx, m)
		cancel()
		switch {
		case err == nil:
			o.log.Info("mail sent", "to", to, "attempt", attempt)
			return
		case ctx.Err() != nil:
			o.log.Warn("mail dropped: shutting down", "to", to, "attempt", attempt)
			return
		case permanent(err):
			o.log.Error("mail given up: refused", "to", to, "attempt", attempt, "err", redact(err, m.To))
			return
		case attempt == attempts:
			o.log.Error("mail given up", "to", to, "attempts", attempts, "err", redact(err, m.To))
			return
		}
		wait := spread(o.backoff[attempt-1])
		o.log.Warn("mail failed: retrying", "to", to, "attempt", attempt, "in", wait, "err", redact(err, m.To))
		select {
		case <-ctx.Done():
			o.log.Warn("mail dropped: shutting down", "to", to, "attempt", attempt)
			return
		case <-time.After(wait):
		}
	}
}

// permanent reports whether the relay refused m for good (a 5xx reply), so
// that sending it again would only be refused again.
func permanent(err error) bool {
	var se *gomail.SendError
	return errors.As(err, &se) && !se.IsTemp()
}

// redact masks the recipient in err's text: go-mail's errors list the
// affected recipients in full.
func redact(err error, address string) string {
	if address == "" {
		return err.Error()
	}
	return strings.ReplaceAll(err.Error(), address, Mask(address))
}

func spread(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (1 + jitter*(2*rand.Float64()-1)))
}
