package main

import "testing"

// delivery is one event as a stream receives it.
type delivery struct {
	id  int64
	seq int
	at  int64 // receive time; the send time is 0
}

func TestScoreStreams(t *testing.T) {
	const cutoff = 1000
	in := func(pairs ...int) []delivery { // id, seq pairs received in time
		var ds []delivery
		for i := 0; i < len(pairs); i += 2 {
			ds = append(ds, delivery{id: int64(pairs[i]), seq: pairs[i+1], at: 10})
		}
		return ds
	}
	tests := []struct {
		name     string
		accepted []int
		streams  [][]delivery
		eligible []bool // nil: all
		want     score
		outcomes []outcome // of the first stream's deliveries, when given
	}{
		{
			name:     "everything once, in order",
			accepted: []int{0, 1, 2},
			streams:  [][]delivery{in(1, 0, 2, 1, 3, 2), in(1, 0, 2, 1, 3, 2)},
			want:     score{Streams: 2, Expected: 6, Received: 6},
		},
		{
			name:     "one stream misses one message",
			accepted: []int{0, 1, 2},
			streams:  [][]delivery{in(1, 0, 3, 2), in(1, 0, 2, 1, 3, 2)},
			want:     score{Streams: 2, Expected: 6, Received: 5, Lost: 1},
		},
		{
			name:     "the same message id twice counts once and as a duplicate",
			accepted: []int{0, 1},
			streams:  [][]delivery{in(1, 0, 2, 1, 2, 1)},
			want:     score{Streams: 1, Expected: 2, Received: 2, Duplicates: 1},
			outcomes: []outcome{delivered, delivered, duplicate},
		},
		{
			name:     "the same post stored twice, under a new id, is a duplicate",
			accepted: []int{0, 1},
			streams:  [][]delivery{in(1, 0, 2, 1, 3, 1)},
			want:     score{Streams: 1, Expected: 2, Received: 2, Duplicates: 1},
		},
		{
			name:     "a lower id after a higher one is out of order, and still received",
			accepted: []int{0, 1, 2},
			streams:  [][]delivery{in(1, 0, 3, 2, 2, 1)},
			want:     score{Streams: 1, Expected: 3, Received: 3, OutOfOrder: 1},
		},
		{
			name:     "after the grace period a message is late, and lost",
			accepted: []int{0, 1},
			streams:  [][]delivery{{{id: 1, seq: 0, at: 10}, {id: 2, seq: 1, at: cutoff + 1}}},
			want:     score{Streams: 1, Expected: 2, Received: 1, Lost: 1, Late: 1},
			outcomes: []outcome{delivered, tooLate},
		},
		{
			name:     "a post reported failed but delivered is unexpected, not received",
			accepted: []int{0, 2},
			streams:  [][]delivery{in(1, 0, 2, 1, 3, 2)},
			want:     score{Streams: 1, Expected: 2, Received: 2, Unexpected: 1},
		},
		{
			name:     "a stream not held for the whole window is not expected to have everything",
			accepted: []int{0, 1},
			streams:  [][]delivery{in(1, 0, 2, 1), in(2, 1)},
			eligible: []bool{true, false},
			want:     score{Streams: 1, Expected: 2, Received: 2},
		},
		{
			name:     "but its duplicates still count",
			accepted: []int{0, 1},
			streams:  [][]delivery{in(1, 0, 2, 1), in(2, 1, 2, 1)},
			eligible: []bool{true, false},
			want:     score{Streams: 1, Expected: 2, Received: 2, Duplicates: 1},
		},
		{
			name:     "a sequence number out of range is malformed",
			accepted: []int{0},
			streams:  [][]delivery{in(1, 0, 2, maxSeq)},
			want:     score{Streams: 1, Expected: 1, Received: 1, Malformed: 1},
			outcomes: []outcome{delivered, invalid},
		},
		{
			name:    "nothing accepted, nothing expected",
			streams: [][]delivery{nil, nil},
			want:    score{Streams: 2},
		},
	}
	for _, tt := range tests {
		var accepted bitset
		for _, seq := range tt.accepted {
			accepted.add(seq)
		}
		tallies := make([]*tally, len(tt.streams))
		eligible := tt.eligible
		if eligible == nil {
			eligible = make([]bool, len(tt.streams))
			for i := range eligible {
				eligible[i] = true
			}
		}
		for i, ds := range tt.streams {
			tallies[i] = &tally{}
			for j, d := range ds {
				got := tallies[i].record(d.id, d.seq, 0, d.at, cutoff)
				if i == 0 && tt.outcomes != nil && got != tt.outcomes[j] {
					t.Errorf("%s: delivery %d scored %d, want %d", tt.name, j, got, tt.outcomes[j])
				}
			}
		}
		if got := scoreStreams(tallies, eligible, accepted); got != tt.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
}

func TestBitset(t *testing.T) {
	var a, b bitset
	for _, i := range []int{0, 63, 64, 200} {
		a.add(i)
	}
	b.add(63)
	b.add(1000)
	if !a.has(200) || a.has(1) || a.has(5000) {
		t.Error("has: wrong membership")
	}
	if a.count() != 4 || a.andNotCount(b) != 3 || b.andNotCount(a) != 1 {
		t.Errorf("count %d, a-b %d, b-a %d; want 4, 3, 1", a.count(), a.andNotCount(b), b.andNotCount(a))
	}
	a.union(b)
	if a.count() != 5 || !a.has(1000) {
		t.Errorf("union: count %d, want 5 with 1000", a.count())
	}
}
