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
	r       *bufio.Reader
	id      []byte
	hasID   bool
	data    []byte
	long    []byte // a line longer than r's buffer, assembled here
	skipped int    // lines longer than maxSSELine, dropped
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
		if len(line) == 0 {
			if !p.hasID && len(p.data) == 0 {
				continue // a blank line with no event before it
			}
			item := sseItem{data: bytes.TrimSuffix(p.data, []byte("\n"))}
			if p.hasID {
				item.id = p.id
			}
			p.hasID, p.data = false, p.data[:0]
			return item, nil
		}
		if line[0] == ':' {
			return sseItem{comment: true, data: bytes.TrimPrefix(line[1:], []byte(" "))}, nil
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) { // does not allocate
		case "id":
			p.id, p.hasID = append(p.id[:0], value...), true
		case "data":
			p.data = append(append(p.data, value...), '\n')
		}
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
