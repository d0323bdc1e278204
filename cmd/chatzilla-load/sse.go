package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// sseItem is one thing read from a text/event-stream: an event, or a
// comment (": connected", ": heartbeat"). Its slices are only valid until the
// next call to next.
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

// keepLongBuffer is the most a parser keeps allocated for long lines between
// them, so that one long message does not cost every stream 64 KiB for good.
const keepLongBuffer = 16 << 10

// sseParser reads a text/event-stream with one small buffer per stream. It is
// hand-written rather than built on bufio.Scanner so that a line that fits the
// buffer is never copied except into the event's data, and it keeps no
// state besides the event being assembled.
//
// Lines end with \n or \r\n. A lone \r also ends a line in the format's
// grammar, but Chatzilla splits data at every \r before framing it (see
// handlers/sse.go), so that case never arises and is not handled.
type sseParser struct {
	r *bufio.Reader
	sseState
	long    []byte // a line longer than r's buffer, assembled here
	skipped int    // lines longer than maxSSELine, dropped
}

// sseState is the event being assembled, line by line.
type sseState struct {
	id    []byte
	hasID bool
	data  []byte
}

func newSSEParser(r io.Reader, size int) *sseParser {
	return &sseParser{r: bufio.NewReaderSize(r, size)}
}

// next returns the next comment or complete event. Fields other than id and
// data (event, retry) are ignored: Chatzilla only sends messages.
func (p *sseParser) next() (sseItem, error) {
	for {
		line, err := p.readLine()
		if err != nil {
			return sseItem{}, err
		}
		if item, ok := p.line(line); ok {
			return item, nil
		}
	}
}

// buffered is what the parser has read from its reader but not parsed yet.
func (p *sseParser) buffered() []byte {
	b, _ := p.r.Peek(p.r.Buffered())
	return b
}

// line takes one line, without its ending, and returns a comment or a
// completed event, if the line made one.
func (st *sseState) line(line []byte) (sseItem, bool) {
	if len(line) == 0 {
		if !st.hasID && len(st.data) == 0 {
			return sseItem{}, false // a blank line with no event before it
		}
		item := sseItem{data: bytes.TrimSuffix(st.data, []byte("\n"))}
		if st.hasID {
			item.id = st.id
		}
		st.hasID, st.data = false, st.data[:0]
		return item, true
	}
	if line[0] == ':' {
		return sseItem{comment: true, data: bytes.TrimPrefix(line[1:], []byte(" "))}, true
	}
	field, value, _ := bytes.Cut(line, []byte(":"))
	value = bytes.TrimPrefix(value, []byte(" "))
	switch string(field) { // does not allocate
	case "id":
		st.id, st.hasID = append(st.id[:0], value...), true
	case "data":
		st.data = append(append(st.data, value...), '\n')
	}
	return sseItem{}, false
}

// sseFeed parses a stream pushed to it in pieces as they arrive (see the
// epoll reader), keeping a line that is not complete yet between pieces.
type sseFeed struct {
	sseState
	partial  []byte // the start of an unfinished line
	skipping bool   // the unfinished line is too long: drop it to its end
	skipped  int    // lines longer than maxSSELine, dropped
}

// feed parses b and calls emit for every comment and complete event. The
// item's slices are only valid during the call.
func (f *sseFeed) feed(b []byte, emit func(sseItem)) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if !f.skipping && len(f.partial)+len(b) > maxSSELine {
				f.skipping, f.partial = true, f.partial[:0]
			}
			if !f.skipping {
				f.partial = append(f.partial, b...)
			}
			return
		}
		line := b[:i]
		b = b[i+1:]
		if f.skipping || len(f.partial)+len(line) > maxSSELine {
			f.skipping, f.partial = false, f.partial[:0]
			f.skipped++
			continue
		}
		if len(f.partial) > 0 {
			f.partial = append(f.partial, line...)
			line = f.partial
		}
		if item, ok := f.line(bytes.TrimSuffix(line, []byte("\r"))); ok {
			emit(item)
		}
		if cap(f.partial) > keepLongBuffer {
			f.partial = nil
		}
		f.partial = f.partial[:0]
	}
}

// readLine returns the next line without its ending, skipping lines longer
// than maxSSELine. The slice is valid until the next read.
func (p *sseParser) readLine() ([]byte, error) {
	for {
		line, err := p.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if cap(p.long) > keepLongBuffer {
				p.long = nil
			}
			p.long = append(p.long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = p.r.ReadSlice('\n')
				if len(p.long) <= maxSSELine {
					p.long = append(p.long, line...)
				}
			}
			line = p.long
		}
		if err != nil {
			if err == io.EOF && len(line) > 0 {
				err = io.ErrUnexpectedEOF // the stream ended inside an event
			}
			return nil, err
		}
		if len(line) > maxSSELine {
			p.skipped++
			continue
		}
		line = line[:len(line)-1]
		return bytes.TrimSuffix(line, []byte("\r")), nil
	}
}
