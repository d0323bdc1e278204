package stream

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
	got, err := MessageFrame(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	want := "id: 42\ndata: <li id=\"m-42\" class=\"msg av-9 newday\" data-initials=\"B\" data-name=\"bob\">" +
		"<time class=\"day\" datetime=\"2026-11-25\">Wednesday 25 November 2026</time>" +
		"<b><bdi>bob@example.com</bdi></b>: <bdi>hi &lt;b&gt;&#34;you&#34;&lt;/b&gt; &amp; me<br>second line</bdi>" +
		"<time datetime=\"2026-11-25T09:05:07Z\" title=\"25 Nov 2026 09:05 UTC\">9:05</time></li>\n\n"
	if string(got) != want {
		t.Errorf("frame\n%q\nwant\n%q", got, want)
	}
	if strings.Count(string(got), "\n\n") != 1 {
		t.Error("a message must be exactly one event")
	}
}

// The frame of a message depends on the one before it in the log: the same
// sender moments later joins its group, a new day gets a day line.
func TestMessageFrameFollowsTheMessageBefore(t *testing.T) {
	at := func(day, h, m int) time.Time { return time.Date(2026, 11, day, h, m, 0, 0, time.UTC) }
	ann := store.Message{ID: 1, Sender: "ann@example.com", Content: "hi", CreatedAt: at(25, 9, 0)}
	tests := []struct {
		name      string
		prev      *store.Message
		m         store.Message
		cont, day bool
	}{
		{"first in the log", nil, store.Message{ID: 2, Sender: "ann@example.com", CreatedAt: at(25, 9, 1)}, false, true},
		{"same sender, a minute later", &ann, store.Message{ID: 2, Sender: "ann@example.com", CreatedAt: at(25, 9, 1)}, true, false},
		{"same sender, ten minutes later", &ann, store.Message{ID: 2, Sender: "ann@example.com", CreatedAt: at(25, 9, 10)}, false, false},
		{"someone else", &ann, store.Message{ID: 2, Sender: "bob@example.com", CreatedAt: at(25, 9, 1)}, false, false},
		{"same sender, next day", &ann, store.Message{ID: 2, Sender: "ann@example.com", CreatedAt: at(26, 9, 0)}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.m.Content = "again"
			frame, err := MessageFrame(tt.prev, tt.m)
			if err != nil {
				t.Fatal(err)
			}
			li := string(frame)
			if got := strings.Contains(li, `class="msg av-`) && strings.Contains(li, " cont"); got != tt.cont {
				t.Errorf("follows on: %v, want %v: %s", got, tt.cont, li)
			}
			if got := strings.Contains(li, `<time class="day"`); got != tt.day {
				t.Errorf("day line: %v, want %v: %s", got, tt.day, li)
			}
			// Grouped or not, the sender stays in the markup.
			if !strings.Contains(li, "<b><bdi>"+tt.m.Sender+"</bdi></b>: <bdi>again</bdi>") {
				t.Errorf("no sender in %s", li)
			}
		})
	}
}
