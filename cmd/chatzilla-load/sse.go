package main

import (
	"bytes"
	"time"
)

// sseItem is one thing read from a text/event-stream: an event, or a
// comment (": connected", ": heartbeat"). Its slices are only valid during
// the call that hands it over.
type sseItem struct {
	comment bool
	id      []byte // nil when the event had no id field
	data    []byte // the data lines joined by \n
}

// maxSSELine is the longest line kept. The longest Chatzilla message event
// is a message of MESSAGE_MAX_LENGTH (at most 10,000) characters, HTML-escaped,
// plus markup and a sender address: well under this. Longer lines (a "who's
// online" panel listing thousands of people, say) cannot carry a load-test
// message, so they are skipped rather than held in memory for every stream.
const maxSSELine = 64 << 10

// maxRetryField bounds a retry: field, so a huge value cannot overflow a
// Duration.
const maxRetryField = time.Hour

// keepLongBuffer is the most a parser keeps allocated for long lines between
// them, so that one long message does not cost every stream 64 KiB for good.
const keepLongBuffer = 16 << 10

// sseParser parses a text/event-stream pushed to it in pieces as they are
// read (by a stream's goroutine or by the epoll poller), keeping only the
// event being assembled and a line not complete yet. A line that arrives
// whole within one piece is never copied except into the event's data.
//
// Lines end with \n or \r\n. A lone \r also ends a line in the format's
// grammar, but Chatzilla splits data at every \r before framing it (see
// stream/frame.go), so that case never arises and is not handled.
type sseParser struct {
	id       []byte
	hasID    bool
	data     []byte
	partial  []byte // the start of an unfinished line
	skipping bool   // the unfinished line is too long: drop it to its end
	skipped  int    // lines longer than maxSSELine, dropped
	// retry is the reconnection time the last retry: field set; hasRetry
	// says whether there was one. It applies when the field is read, not
	// when an event ends, as in EventSource.
	retry    time.Duration
	hasRetry bool
}

// feed parses b and calls emit for every comment and complete event, in
// order. The event field is ignored (Chatzilla only sends messages); retry
// is kept in p.retry for the stream's next reconnect.
func (p *sseParser) feed(b []byte, emit func(sseItem)) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if !p.skipping && len(p.partial)+len(b) > maxSSELine {
				p.skipping, p.partial = true, p.partial[:0]
			}
			if !p.skipping {
				p.partial = append(p.partial, b...)
			}
			return
		}
		line := b[:i]
		b = b[i+1:]
		if p.skipping || len(p.partial)+len(line) > maxSSELine {
			p.skipping, p.partial = false, p.partial[:0]
			p.skipped++
			continue
		}
		if len(p.partial) > 0 {
			p.partial = append(p.partial, line...)
			line = p.partial
		}
		if item, ok := p.line(bytes.TrimSuffix(line, []byte("\r"))); ok {
			emit(item)
		}
		if cap(p.partial) > keepLongBuffer {
			p.partial = nil
		}
		p.partial = p.partial[:0]
	}
}

// line takes one line, without its ending, and returns a comment or a
// completed event, if the line made one.
func (p *sseParser) line(line []byte) (sseItem, bool) {
	if len(line) == 0 {
		if !p.hasID && len(p.data) == 0 {
			return sseItem{}, false // a blank line with no event before it
		}
		item := sseItem{data: bytes.TrimSuffix(p.data, []byte("\n"))}
		if p.hasID {
			item.id = p.id
		}
		p.hasID, p.data = false, p.data[:0]
		return item, true
	}
	if line[0] == ':' {
		return sseItem{comment: true, data: bytes.TrimPrefix(line[1:], []byte(" "))}, true
	}
	field, value, _ := bytes.Cut(line, []byte(":"))
	value = bytes.TrimPrefix(value, []byte(" "))
	switch string(field) { // does not allocate
	case "id":
		p.id, p.hasID = append(p.id[:0], value...), true
	case "data":
		p.data = append(append(p.data, value...), '\n')
	case "retry":
		// Only ASCII digits, as EventSource requires; anything else is
		// ignored. A value past an hour is clamped: no storm waits that long.
		if ms, rest, ok := leadingNumber(value); ok && len(rest) == 0 {
			p.retry, p.hasRetry = time.Duration(min(ms, maxRetryField.Milliseconds()))*time.Millisecond, true
		}
	}
	return sseItem{}, false
}
