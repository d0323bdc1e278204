package hub

// PublishNow publishes e and runs one fan-out round before it returns: every
// subscriber is offered everything published so far that it has not been
// sent (up to maxCoalesce events or maxCoalesceBytes), queued, or written directly if
// it is idle. A subscriber whose buffer is full, or whose client is gone, is
// dropped: its channel is closed so its stream ends and its client
// reconnects. PublishNow reports how many subscribers were offered events
// and kept, and how many were dropped.
func (h *Hub) PublishNow(e Event) (delivered, dropped int) {
	h.fanOutMu.Lock()
	defer h.fanOutMu.Unlock()
	h.logMu.Lock()
	h.append(e)
	h.logMu.Unlock()
	delivered, dropped, _ = h.round(true)
	return delivered, dropped
}

// round visits every subscriber once, sending each what it has not been
// sent yet (with several goroutines if spread and there are many). It
// reports how many subscribers it offered events and kept, how many it

// Len is the number of subscribers.
func (h *Hub) Len() int { return h.Subscribers() }
