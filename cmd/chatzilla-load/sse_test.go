package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestSSEParser(t *testing.T) {
	type item struct {
		comment  bool
		id, data string
		hasID    bool
	}
	long := strings.Repeat("x", 5000) // longer than the parser's buffer below
	tests := []struct {
		name    string
		stream  string
		want    []item
		wantErr error
	}{
		{
			name:   "what Chatzilla sends",
			stream: ": connected\n\nid: 7\ndata: <li id=\"m-7\"><b>a@example.com</b>: hi</li>\n\n: heartbeat\n\n",
			want: []item{
				{comment: true, data: "connected"},
				{id: "7", hasID: true, data: `<li id="m-7"><b>a@example.com</b>: hi</li>`},
				{comment: true, data: "heartbeat"},
			},
			wantErr: io.EOF,
		},
		{
			name:    "data lines are joined with newlines",
			stream:  "id: 1\ndata: one\ndata: two\ndata:\n\n",
			want:    []item{{id: "1", hasID: true, data: "one\ntwo\n"}},
			wantErr: io.EOF,
		},
		{
			name:    "CRLF line endings and no space after the colon",
			stream:  "id:12\r\ndata:x y\r\n\r\n",
			want:    []item{{id: "12", hasID: true, data: "x y"}},
			wantErr: io.EOF,
		},
		{
			name:    "only one leading space is dropped",
			stream:  "data:  indented\n\n",
			want:    []item{{data: " indented"}},
			wantErr: io.EOF,
		},
		{
			name:    "other fields and blank lines between events are ignored",
			stream:  "\n\nevent: message\nretry: 10\nid: 3\ndata: a\n\n\n",
			want:    []item{{id: "3", hasID: true, data: "a"}},
			wantErr: io.EOF,
		},
		{
			name:    "a comment inside an event does not end it",
			stream:  "id: 4\n: note\ndata: b\n\n",
			want:    []item{{comment: true, data: "note"}, {id: "4", hasID: true, data: "b"}},
			wantErr: io.EOF,
		},
		{
			name:    "a line longer than the buffer",
			stream:  "id: 5\ndata: " + long + "\n\n",
			want:    []item{{id: "5", hasID: true, data: long}},
			wantErr: io.EOF,
		},
		{
			name:    "a stream cut inside a line",
			stream:  "id: 6\ndata: hal",
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:    "a line beyond any message is skipped, and the stream goes on",
			stream:  "data: " + strings.Repeat("y", maxSSELine+10) + "\n\nid: 8\ndata: " + strings.Repeat("z", maxSSELine+10) + "\ndata: c\n\n",
			want:    []item{{id: "8", hasID: true, data: "c"}},
			wantErr: io.EOF,
		},
	}
	for _, tt := range tests {
		// Byte by byte as well as whole, since a network read can end
		// anywhere.
		for _, split := range []bool{false, true} {
			var r io.Reader = strings.NewReader(tt.stream)
			if split {
				r = iotest.OneByteReader(r)
			}
			p := newSSEParser(r, 64)
			var got []item
			var err error
			for {
				var it sseItem
				if it, err = p.next(); err != nil {
					break
				}
				got = append(got, item{comment: it.comment, id: string(it.id), hasID: it.id != nil, data: string(it.data)})
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("%s (split %v): error %v, want %v", tt.name, split, err, tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Errorf("%s (split %v): got %d items, want %d", tt.name, split, len(got), len(tt.want))
				continue
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("%s (split %v): item %d = %.200q, want %.200q", tt.name, split, i, fmt.Sprint(got[i]), fmt.Sprint(tt.want[i]))
				}
			}
		}
	}
}

// TestSSEFeedMatchesParser feeds streams to sseFeed in pieces of every size
// and checks that it finds exactly what sseParser finds reading them whole.
func TestSSEFeedMatchesParser(t *testing.T) {
	streams := []string{
		": connected\n\nid: 7\ndata: <li id=\"m-7\"><b>a@example.com</b>: hi</li>\n\n: heartbeat\n\n",
		"id: 1\ndata: one\ndata: two\ndata:\n\n",
		"id:12\r\ndata:x y\r\n\r\n",
		"\n\nevent: message\nretry: 10\nid: 3\ndata: a\n\n\n",
		"id: 4\n: in between\ndata: b\n\n",
		"data: " + strings.Repeat("x", 5000) + "\n\nid: 5\ndata: after\n\n",
		"data: " + strings.Repeat("y", maxSSELine+10) + "\nid: 6\ndata: kept\n\n",
	}
	render := func(it sseItem) string {
		return fmt.Sprintf("comment=%v id=%q(%v) data=%q", it.comment, it.id, it.id != nil, it.data)
	}
	for i, stream := range streams {
		var want []string
		p := newSSEParser(strings.NewReader(stream), 4096)
		for {
			it, err := p.next()
			if err != nil {
				break
			}
			want = append(want, render(it))
		}
		for _, size := range []int{1, 2, 3, 7, 64, 4096, len(stream)} {
			var f sseFeed
			var got []string
			for rest := stream; len(rest) > 0; {
				n := min(size, len(rest))
				f.feed([]byte(rest[:n]), func(it sseItem) { got = append(got, render(it)) })
				rest = rest[n:]
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("stream %d in pieces of %d:\n got %.300v\nwant %.300v", i, size, got, want)
			}
			if f.skipped != p.skipped {
				t.Errorf("stream %d in pieces of %d: skipped %d lines, parser %d", i, size, f.skipped, p.skipped)
			}
		}
	}
}
