package main

import (
	"math/bits"
	"sync/atomic"
)

// maxSeq bounds the sequence numbers a tally accepts, so that a corrupted
// payload cannot make a stream allocate a huge bitset. A run posting more
// than this many messages is not a load test this tool was made for.
const maxSeq = 1 << 24

// bitset is a set of post sequence numbers.
type bitset []uint64

func (b bitset) has(i int) bool { return i>>6 < len(b) && b[i>>6]&(1<<(i&63)) != 0 }

func (b *bitset) add(i int) {
	for i>>6 >= len(*b) {
		*b = append(*b, 0)
	}
	(*b)[i>>6] |= 1 << (i & 63)
}

// andNotCount counts the members of b missing from o.
func (b bitset) andNotCount(o bitset) int {
	n := 0
	for i, w := range b {
		if i < len(o) {
			w &^= o[i]
		}
		n += bits.OnesCount64(w)
	}
	return n
}

func (b bitset) count() int { return b.andNotCount(nil) }

// union adds every member of o to b.
func (b *bitset) union(o bitset) {
	for len(*b) < len(o) {
		*b = append(*b, 0)
	}
	for i, w := range o {
		(*b)[i] |= w
	}
}

// tally is one stream's record of the run's messages. Only the stream's own
// goroutine writes it; everything but received is read after the stream has
// stopped, so only received needs to be atomic (the run polls it to finish
// early once every stream has everything).
type tally struct {
	seen       bitset
	received   atomic.Int64 // distinct messages, on time
	duplicates int
	outOfOrder int
	late       int // first received after the grace period: scored as lost
	malformed  int
	misrouted  int   // rooms mode: messages of another room than the stream's
	lastID     int64 // highest message id received
	firstSent  int64 // earliest send time seen, unix nanos
	lastRecv   int64 // latest first delivery, unix nanos
}

// outcome says what a delivery was, so the caller knows whether to record its
// latency.
type outcome int

const (
	delivered outcome = iota
	duplicate
	tooLate
	invalid
)

// record scores one delivery of message seq, which the server numbered id.
// A message is a duplicate if this stream already had it, whatever id it came
// with; it is out of order if a message with a higher id came before it,
// since the server publishes in id order. cutoff (unix nanos, 0 for none) is
// when the grace period ended.
func (t *tally) record(id int64, seq int, sent, now, cutoff int64) outcome {
	if seq < 0 || seq >= maxSeq {
		t.malformed++
		return invalid
	}
	if t.seen.has(seq) {
		t.duplicates++
		return duplicate
	}
	if cutoff != 0 && now > cutoff {
		t.late++
		return tooLate
	}
	t.seen.add(seq)
	t.received.Add(1)
	if id < t.lastID {
		t.outOfOrder++
	}
	t.lastID = max(t.lastID, id)
	if t.firstSent == 0 || sent < t.firstSent {
		t.firstSent = sent
	}
	t.lastRecv = max(t.lastRecv, now)
	return delivered
}

// score is what a set of streams received of the messages they should have.
type score struct {
	Streams    int `json:"streams"`
	Expected   int `json:"expected"`
	Received   int `json:"received"`
	Lost       int `json:"lost"`
	Unexpected int `json:"unexpected"` // ours, but not among the accepted posts
	Duplicates int `json:"duplicates"`
	OutOfOrder int `json:"out_of_order"`
	Late       int `json:"late"`
	Malformed  int `json:"malformed"`
}

// add adds o's counts to s.
func (s *score) add(o score) {
	s.Streams += o.Streams
	s.Expected += o.Expected
	s.Received += o.Received
	s.Lost += o.Lost
	s.Unexpected += o.Unexpected
	s.Duplicates += o.Duplicates
	s.OutOfOrder += o.OutOfOrder
	s.Late += o.Late
	s.Malformed += o.Malformed
}

// scoreStreams adds up the tallies of the streams that were held for the
// whole posting window (eligible) against the accepted posts. Duplicates,
// disorder and malformed payloads count on every stream: they are wrong
// whenever they happen.
func scoreStreams(tallies []*tally, eligible []bool, accepted bitset) score {
	var s score
	want := accepted.count()
	for i, t := range tallies {
		s.Duplicates += t.duplicates
		s.OutOfOrder += t.outOfOrder
		s.Malformed += t.malformed
		if !eligible[i] {
			continue
		}
		s.Streams++
		s.Expected += want
		missing := accepted.andNotCount(t.seen)
		s.Lost += missing
		s.Received += want - missing
		s.Unexpected += t.seen.andNotCount(accepted)
		s.Late += t.late
	}
	return s
}
