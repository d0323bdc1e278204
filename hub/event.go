package hub

// Event is one thing to send to every subscriber: a message or a notice, or
// several of them that were waiting together.
type Event struct {
	// ID is the message id, used by streams to skip what they already
	// replayed from the store; 0 for events that are not stored messages.
	// For events coalesced into one, it is the highest id among them.
	ID int64
	// Frame is the complete text/event-stream frame, encoded once for all
	// subscribers. Subscribers must not modify it.
	Frame []byte
	// coalesced describes the events coalesced into this one; nil for a
	// single event.
	coalesced *coalesced
}

type coalesced struct {
	// parts says where each event's frame starts in Frame, with its id.
	parts []part
	// first is the lowest message id among them (0 if none): derivable from
	// parts, but After needs it for every subscriber, so it is found once.
	first int64
}

type part struct {
	start int
	id    int64
}

// After is the part of e's frame a client that already has every message up
// to id last must still be sent: all of it, usually; none of it for a message
// it already has. Notices (ID 0) are always sent.
func (e *Event) After(last int64) []byte {
	j := e.coalesced
	if j == nil {
		if e.ID == 0 || e.ID > last {
			return e.Frame
		}
		return nil
	}
	if j.first == 0 || j.first > last {
		return e.Frame
	}
	// A stream that has just replayed from the store, which after a
	// restart is every stream at once. Message ids rise from part to part,
	// so the messages it has are the first ones; the notices among them
	// are still sent. Usually there are none, and what is sent is the
	// frame's tail, shared rather than copied.
	cut := 0 // the parts before cut hold every message it has
	for i, p := range j.parts {
		if p.id != 0 && p.id <= last {
			cut = i + 1
		}
	}
	tail := len(e.Frame)
	if cut < len(j.parts) {
		tail = j.parts[cut].start
	}
	size := len(e.Frame) - tail
	for i, p := range j.parts[:cut] {
		if p.id == 0 {
			size += j.parts[i+1].start - p.start
		}
	}
	switch {
	case size == 0:
		return nil
	case size == len(e.Frame)-tail:
		return e.Frame[tail:len(e.Frame):len(e.Frame)]
	}
	b := make([]byte, 0, size)
	for i, p := range j.parts[:cut] {
		if p.id == 0 {
			b = append(b, e.Frame[p.start:j.parts[i+1].start]...)
		}
	}
	return append(b, e.Frame[tail:]...)
}

// maxCoalesce and maxCoalesceBytes bound how many waiting events the fan-out
// coalesces into one, and how large that may get.
const (
	maxCoalesce      = 64
	maxCoalesceBytes = 64 << 10
)

// coalesce makes one event of events, in order.
func coalesce(events []*Event) *Event {
	if len(events) == 1 {
		return events[0]
	}
	size := 0
	for _, e := range events {
		size += len(e.Frame)
	}
	info := &coalesced{parts: make([]part, len(events))}
	j := &Event{Frame: make([]byte, 0, size), coalesced: info}
	for i, e := range events {
		info.parts[i] = part{start: len(j.Frame), id: e.ID}
		j.Frame = append(j.Frame, e.Frame...)
		if e.ID != 0 {
			j.ID = max(j.ID, e.ID)
			if info.first == 0 {
				info.first = e.ID
			}
		}
	}
	return j
}
