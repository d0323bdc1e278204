package handlers

import (
	"net/http"
	"sync"
	"time"
)

// streamSlots counts open streams, in all, per session and per client
// address. Each stream holds a goroutine, a connection and a file descriptor
// until it ends, so every count is bounded: one session (a browser with many
// tabs, or a script) or one address (an office behind one NAT, or someone
// joining again and again for fresh sessions) cannot take them all, and the
// process never runs out of descriptors.
type streamSlots struct {
	max, maxPerSession, maxPerAddress int // maxPerAddress 0: no cap

	mu        sync.Mutex
	open      int
	bySession map[string]int
	byAddress map[string]int
}

func newStreamSlots(l Limits) *streamSlots {
	return &streamSlots{
		max: l.MaxStreams, maxPerSession: l.MaxStreamsPerSession, maxPerAddress: l.MaxStreamsPerAddress,
		bySession: make(map[string]int), byAddress: make(map[string]int),
	}
}

// acquire takes a slot for a stream of session from address, or returns the
// 503 that says which limit is reached.
func (s *streamSlots) acquire(session, address string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.bySession[session] >= s.maxPerSession:
		return problem(http.StatusServiceUnavailable, "Chatzilla is open in too many tabs. Close some and reload.")
	case s.maxPerAddress > 0 && s.byAddress[address] >= s.maxPerAddress:
		return problem(http.StatusServiceUnavailable, "Too many Chatzilla pages are open from your network right now. Reconnecting shortly…")
	case s.open >= s.max:
		return problem(http.StatusServiceUnavailable, "Chatzilla is full right now. Reconnecting shortly…")
	}
	s.open++
	s.bySession[session]++
	s.byAddress[address]++
	return nil
}

func (s *streamSlots) release(session, address string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open--
	if s.bySession[session]--; s.bySession[session] <= 0 {
		delete(s.bySession, session)
	}
	if s.byAddress[address]--; s.byAddress[address] <= 0 {
		delete(s.byAddress, address)
	}
}

// admitStream checks that session, from address, may open one more stream
// now: the rate limits on opening (a page that reconnects in a loop, or a
// script that opens streams for their replay, would otherwise cost a store
// read and a write of history each time), then the caps on open streams.
// On success the stream holds a slot, which the caller must release.
func (s *server) admitStream(session, address string) error {
	if s.Limits.FloodControl && s.Limits.StreamOpensPerSecond > 0 {
		now := time.Now()
		for _, b := range []struct {
			flood *buckets
			key   string
		}{
			// The session's first: a session refused for looping then
			// takes nothing from what its address's other sessions share.
			{s.streamFlood, "session:" + session}, {s.addressStreamFlood, address},
		} {
			if ok, wait := b.flood.take(now, b.key); !ok {
				return &httpError{status: http.StatusTooManyRequests, retryAfter: retryAfterSeconds(wait),
					message: "Reconnecting too often. Waiting " + plural(retryAfterSeconds(wait), "second") + "…"}
			}
		}
	}
	return s.streams.acquire(session, address)
}
