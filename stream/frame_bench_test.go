package stream

import (
	"strings"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/store"
)

var benchMessage = store.Message{
	ID: 123456, Sender: "ada.lovelace@example.com",
	Content:   strings.Repeat("Hello <everyone> & welcome! ", 5),
	CreatedAt: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
}

// BenchmarkMessageFrame is the work done once per message: render the list
// item and frame it as an SSE event.
func BenchmarkMessageFrame(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MessageFrame(nil, benchMessage); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeEvent is the SSE framing alone.
func BenchmarkEncodeEvent(b *testing.B) {
	data := []byte(`<li id="m-123456" class="msg av-1" data-initials="AL" data-name="ada.lovelace"><b><bdi>ada.lovelace@example.com</bdi></b>: <bdi>Hello &lt;everyone&gt; &amp; welcome!</bdi><time datetime="2026-11-25T12:00:00Z" title="25 Nov 2026 12:00 UTC">12:00</time></li>`)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		encodeEvent(123456, data)
	}
}
