package handlers

import (
	"strings"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/store"
)

func TestEncodeEvent(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
	}{
		{"one line", "<li>a</li>", "id: 7\ndata: <li>a</li>\n\n"},
		{"empty", "", "id: 7\ndata: \n\n"},
		{"LF", "a\nb", "id: 7\ndata: a\ndata: b\n\n"},
		{"CRLF", "a\r\nb", "id: 7\ndata: a\ndata: b\n\n"},
		{"lone CR", "a\rb", "id: 7\ndata: a\ndata: b\n\n"},
		{"field injection", "x\n\nid: 99\nevent: boom\ndata: y", "id: 7\ndata: x\ndata: \ndata: id: 99\ndata: event: boom\ndata: data: y\n\n"},
		{"trailing break", "a\n", "id: 7\ndata: a\ndata: \n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(encodeEvent(7, []byte(tt.data))); got != tt.want {
				t.Errorf("encodeEvent(%q) = %q, want %q", tt.data, got, tt.want)
			}
		})
	}
}

func TestEventWithoutIDKeepsLastEventID(t *testing.T) {
	// An event with no id line leaves the browser's Last-Event-ID alone,
	// which is what a presence notice must do.
	if got := string(encodeEvent(0, []byte("<li>x</li>"))); got != "data: <li>x</li>\n\n" {
		t.Errorf("encodeEvent(0, …) = %q", got)
	}
}

func TestMessageFrameIsTheListItem(t *testing.T) {
	m := store.Message{ID: 42, Sender: "bob@example.com", Content: "hi <b>\"you\"</b> & me\nsecond line", CreatedAt: time.Date(2026, 11, 25, 9, 5, 7, 0, time.UTC)}
	got, err := messageFrame(m)
	if err != nil {
		t.Fatal(err)
	}
	want := "id: 42\ndata: <li id=\"m-42\" class=\"av-1\" data-initials=\"B\"><b><bdi>bob@example.com</bdi></b>: <bdi>hi &lt;b&gt;&#34;you&#34;&lt;/b&gt; &amp; me<br>second line</bdi>" +
		"<time datetime=\"2026-11-25T09:05:07Z\" title=\"25 Nov 2026 09:05 UTC\">09:05</time></li>\n\n"
	if string(got) != want {
		t.Errorf("frame\n%q\nwant\n%q", got, want)
	}
	if strings.Count(string(got), "\n\n") != 1 {
		t.Error("a message must be exactly one event")
	}
}
