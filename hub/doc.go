// Package hub fans chat events out to every open stream.
//
// The hub knows nothing of HTTP or SQL: a publisher hands it events that are
// already rendered and framed, and it copies the same bytes to every
// subscriber. It is modelled on the hub of gorilla/websocket's chat example:
// one goroutine fans events out, in order (spreading the work over others
// when there are many subscribers), and a subscriber that cannot keep up is
// dropped rather than allowed to slow everyone. The subscriber set is
// guarded by a mutex rather than owned by that goroutine, so subscribing and
// unsubscribing never wait behind a fan-out in progress.
//
// Published events wait in a log (fanout.go). The fan-out visits the
// subscribers in rounds and sends each, with one write, everything logged
// since its last visit, coalesced into one event (up to maxCoalesce events),
// so an event usually waits at most one round for anyone, and the busier the
// hub, the more events each write carries.
//
// A subscriber that is waiting with nothing queued may let the fan-out write
// to its client directly (SetDirect, Idle): with thousands of streams, waking
// a goroutine per stream for every message costs more than the write itself.
//
// The files follow the jobs: event.go is what is sent (an event, and events
// coalesced into one); subscriber.go is one stream's place, its buffer and
// its direct writes; hub.go is the set of subscribers and its life cycle;
// fanout.go is the log and the rounds that empty it.
//
// # What a subscriber may assume
//
//   - Order: events arrive in the order they were published, whether queued
//     on Events or written directly.
//   - No gaps: while subscribed, a subscriber is offered every event
//     published after Subscribe returned. A subscriber that cannot take one
//     (its buffer is full, or its client is gone) is dropped, its channel
//     closed, rather than skipped over; it never sees an event after a gap.
//     Events published before Subscribe are never sent: a stream reads those
//     from the store, having subscribed first.
//   - No duplicates from the hub: each event is offered once. A message the
//     stream already replayed from the store may still arrive: Event.After,
//     and Idle's last id for direct writes, leave it out.
//   - After Close, events still in the log are not sent; every channel is
//     closed, with Ended saying EndedShutdown.
//
// # Locks
//
// Four mutexes, always taken in this order, never the reverse:
//
//  1. Hub.fanOutMu: one fan-out round at a time; guards the round's snapshot
//     and shares, and every Subscriber.next.
//  2. Hub.mu: the subscriber set (Hub.subscribers, Subscriber.index,
//     detached, attached, closed).
//  3. Subscriber.mu: one subscriber's channel, direct writer and idle state;
//     a send on its channel or a direct write happens only under it.
//
// Hub.logMu (with its condition roomLeft) orders changes to the log and is
// taken alone, or inside fanOutMu (trim), never together with Hub.mu or a
// Subscriber.mu. Readers of the log take no lock: each change stores a new
// logView in an atomic pointer.
package hub
