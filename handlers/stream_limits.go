package handlers

import "sync"

// streamSlots counts open streams, in all and per session. Each stream holds
// a goroutine, a connection and a file descriptor until it ends, so both
// counts are bounded: one session (a browser with many tabs, or a script)
// cannot take them all, and the process never runs out of descriptors.
type streamSlots struct {
	max, maxPerSession int

	mu        sync.Mutex
	open      int
	bySession map[string]int
}

// acquire takes a slot for session, or reports which limit is reached.
func (s *streamSlots) acquire(session string) (ok, sessionFull bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bySession[session] >= s.maxPerSession {
		return false, true
	}
	if s.open >= s.max {
		return false, false
	}
	s.open++
	s.bySession[session]++
	return true, false
}

func (s *streamSlots) release(session string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open--
	if s.bySession[session]--; s.bySession[session] <= 0 {
		delete(s.bySession, session)
	}
}
