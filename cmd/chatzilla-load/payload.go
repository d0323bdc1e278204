package main

import (
	"bytes"
	"errors"
	"math"
	"strconv"
)

// A load-test message carries everything needed to account for it, so that
// a stream can score a delivery without any shared lookup:
//
//	lt:<run>:<sender>:<seq>:<sent unix nanos>
//
// and, once all posts are done, the poster sends one end marker so that
// stream-only processes (-senders 0) know what to expect:
//
//	lt:<run>:end:<posted>:<failed>:<sent unix nanos>
//
// With -rooms, a message names its room (the index in the run's room plan)
// and its place in that room's own sequence, so that a stream can tell a
// message of another room (misrouted) and keeps a bitset only as long as its
// room's share of the posts:
//
//	lt:<run>:room:<room>:<seq>:<sent unix nanos>
//
// Only letters, digits and colons are used: the server HTML-escapes message
// text, and these pass through escaping unchanged, so the text can be found
// in the rendered event as it was sent.
const payloadPrefix = "lt:"

// payload is a decoded load-test message or end marker.
type payload struct {
	end    bool
	inRoom bool  // a -rooms message: room is set, sender is not
	room   int   // room message: the room's index in the run's plan
	sender int   // message: index of the sending user
	seq    int   // message: position in the run's (or the room's) sequence of posts, from 0
	posted int   // end marker: how many posts were attempted
	failed int   // end marker: how many of those were not accepted
	sent   int64 // unix nanos when the post was sent
}

// runPrefix is what every payload of a run starts with.
func runPrefix(run string) []byte { return []byte(payloadPrefix + run + ":") }

func encodeMessage(run string, sender, seq int, sent int64) string {
	b := runPrefix(run)
	b = strconv.AppendInt(b, int64(sender), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(seq), 10)
	b = append(b, ':')
	return string(strconv.AppendInt(b, sent, 10))
}

func encodeRoomMessage(run string, room, seq int, sent int64) string {
	b := append(runPrefix(run), "room:"...)
	b = strconv.AppendInt(b, int64(room), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(seq), 10)
	b = append(b, ':')
	return string(strconv.AppendInt(b, sent, 10))
}

func encodeEnd(run string, posted, failed int, sent int64) string {
	b := append(runPrefix(run), "end:"...)
	b = strconv.AppendInt(b, int64(posted), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(failed), 10)
	b = append(b, ':')
	return string(strconv.AppendInt(b, sent, 10))
}

var errMalformed = errors.New("malformed load-test payload")

// findPayload looks for this run's payload anywhere in an event's data, so
// it does not depend on the markup around the message text. found is false
// for other traffic (people chatting, other runs), which is ignored.
func findPayload(data, prefix []byte) (p payload, found bool, err error) {
	i := bytes.Index(data, prefix)
	if i < 0 {
		return p, false, nil
	}
	rest := data[i+len(prefix):]
	switch {
	case bytes.HasPrefix(rest, []byte("end:")):
		p.end = true
		rest = rest[len("end:"):]
	case bytes.HasPrefix(rest, []byte("room:")):
		p.inRoom = true
		rest = rest[len("room:"):]
	}
	var fields [3]int64
	for n := range fields {
		v, tail, ok := leadingNumber(rest)
		if !ok {
			return p, true, errMalformed
		}
		fields[n] = v
		if n < len(fields)-1 {
			if len(tail) == 0 || tail[0] != ':' {
				return p, true, errMalformed
			}
			tail = tail[1:]
		}
		rest = tail
	}
	switch {
	case p.end:
		p.posted, p.failed = int(fields[0]), int(fields[1])
	case p.inRoom:
		p.room, p.seq = int(fields[0]), int(fields[1])
	default:
		p.sender, p.seq = int(fields[0]), int(fields[1])
	}
	p.sent = fields[2]
	return p, true, nil
}

// leadingNumber parses the decimal digits at the start of b, refusing a
// number that does not fit in an int64 (send times already need 19 digits).
func leadingNumber(b []byte) (v int64, rest []byte, ok bool) {
	n := 0
	for n < len(b) && isDigit(b[n]) {
		d := int64(b[n] - '0')
		if v > (math.MaxInt64-d)/10 {
			return 0, b, false
		}
		v = v*10 + d
		n++
	}
	return v, b[n:], n > 0
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
