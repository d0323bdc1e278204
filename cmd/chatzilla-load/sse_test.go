package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestSSEParser(t *testing.T) {
	type item struct {
		comment  bool
		id, data string
		hasID    bool
	}
	long := strings.Repeat("x", 5000) // longer than a read below
	tests := []struct {
		name    string
		stream  string
		want    []item
		skipped int // lines over maxSSELine
	}{
		{
			name:   "what Chatzilla sends",
			stream: ": connected\n\nid: 7\ndata: <li id=\"m-7\"><b>a@example.com</b>: hi</li>\n\n: heartbeat\n\n",
			want: []item{
				{comment: true, data: "connected"},
				{id: "7", hasID: true, data: `<li id="m-7"><b>a@example.com</b>: hi</li>`},
				{comment: true, data: "heartbeat"},
			},
		},
		{
			name:   "data lines are joined with newlines",
			stream: "id: 1\ndata: one\ndata: two\ndata:\n\n",
			want:   []item{{id: "1", hasID: true, data: "one\ntwo\n"}},
		},
		{
			name:   "CRLF line endings and no space after the colon",
			stream: "id:12\r\ndata:x y\r\n\r\n",
			want:   []item{{id: "12", hasID: true, data: "x y"}},
		},
		{
			name:   "only one leading space is dropped",
			stream: "data:  indented\n\n",
			want:   []item{{data: " indented"}},
		},
		{
			name:   "other fields and blank lines between events are ignored",
			stream: "\n\nevent: message\nretry: 10\nid: 3\ndata: a\n\n\n",
			want:   []item{{id: "3", hasID: true, data: "a"}},
		},
		{
			name:   "a comment inside an event does not end it",
			stream: "id: 4\n: note\ndata: b\n\n",
			want:   []item{{comment: true, data: "note"}, {id: "4", hasID: true, data: "b"}},
		},
		{
			name:   "a line longer than a read",
			stream: "id: 5\ndata: " + long + "\n\n",
			want:   []item{{id: "5", hasID: true, data: long}},
		},
		{
			name:   "a stream cut inside a line gives nothing of it",
			stream: "id: 6\ndata: hal",
		},
		{
			name:    "a line beyond any message is skipped, and the stream goes on",
			stream:  "data: " + strings.Repeat("y", maxSSELine+10) + "\n\nid: 8\ndata: " + strings.Repeat("z", maxSSELine+10) + "\ndata: c\n\n",
			want:    []item{{id: "8", hasID: true, data: "c"}},
			skipped: 2,
		},
	}
	for _, tt := range tests {
		// In pieces of every size as well as whole, since a network read
		// can end anywhere.
		for _, size := range []int{1, 2, 3, 7, 64, 4096, len(tt.stream)} {
			var p sseParser
			var got []item
			for rest := tt.stream; len(rest) > 0; {
				n := min(size, len(rest))
				p.feed([]byte(rest[:n]), func(it sseItem) {
					got = append(got, item{comment: it.comment, id: string(it.id), hasID: it.id != nil, data: string(it.data)})
				})
				rest = rest[n:]
			}
			if p.skipped != tt.skipped {
				t.Errorf("%s (pieces of %d): skipped %d lines, want %d", tt.name, size, p.skipped, tt.skipped)
			}
			if len(got) != len(tt.want) {
				t.Errorf("%s (pieces of %d): got %d items, want %d", tt.name, size, len(got), len(tt.want))
				continue
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("%s (pieces of %d): item %d = %.200q, want %.200q", tt.name, size, i, fmt.Sprint(got[i]), fmt.Sprint(tt.want[i]))
				}
			}
		}
	}
}

// A retry: field sets the reconnection time when it is read, whether or not
// an event follows; a value that is not all digits is ignored.
func TestSSERetryField(t *testing.T) {
	tests := []struct {
		stream string
		want   time.Duration
		has    bool
	}{
		{stream: ": connected\n\n", has: false},
		{stream: "retry: 2500\n\n", want: 2500 * time.Millisecond, has: true},
		{stream: "retry:0\nid: 1\ndata: x\n\n", want: 0, has: true},
		{stream: "retry: 300\n\nretry: 1.5\nretry: -1\nretry: 5s\nretry:\n\n", want: 300 * time.Millisecond, has: true},
		{stream: "retry: 99999999999999999\n\n", want: maxRetryField, has: true},
		{stream: "retry: 99999999999999999999999\n\n", has: false}, // beyond int64: not a number it can read
	}
	for _, tt := range tests {
		var p sseParser
		p.feed([]byte(tt.stream), func(sseItem) {})
		if p.retry != tt.want || p.hasRetry != tt.has {
			t.Errorf("%q: retry %s (%v), want %s (%v)", tt.stream, p.retry, p.hasRetry, tt.want, tt.has)
		}
	}
}
