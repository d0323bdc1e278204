package handlers

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/stream"
)

// messageItem is the shape of a rendered message; the groups are the
// avatar's initials, the name, the sender and the content, all derived from
// user text.
var messageItem = regexp.MustCompile(`^<li id="m-7" class="msg av-[0-9]+ newday" data-initials="([^"]*)" data-name="([^"]*)">` +
	`<time class="day" datetime="[0-9-]+">[A-Za-z0-9 ]+</time><b><bdi>(.*)</bdi></b>: <bdi>(.*)</bdi>` +
	`<time datetime="[0-9TZ:-]+" title="[^"<>]+">[0-9]{1,2}:[0-9]{2}</time></li>$`)

// link is how the server writes a web address in a message.
var link = regexp.MustCompile(`<a href="([^"<>]*)" rel="noopener noreferrer nofollow ugc" target="_blank">([^"<>]*)</a>`)

// FuzzMessagePipeline feeds arbitrary text through what every message goes
// through, validation, rendering and SSE framing, and checks that whatever
// the text, it becomes exactly one well-formed event in which no user
// character can open a tag, close one, end an attribute or leave its data
// line. The seed corpus is in testdata/fuzz/FuzzMessagePipeline.
func FuzzMessagePipeline(f *testing.F) {
	for _, seed := range []string{
		"hello", "<script>alert(1)</script>", "a\nb\r\nc\rd", "\n\nid: 9\nevent: x\ndata: y\n\n",
		`"><img src=x onerror=alert(1)>`, "&lt;already&gt;", "\u2028\u2029", "\x00", "\xff",
		"\ttab", strings.Repeat("é", 2001), "<br>",
		"see https://example.com/a?b=1&c=<2>\"x\" now", "javascript:alert(1)//https://x.org", "data:text/html,<script>",
		"(https://x.org/a_(b))", "https://", "http://[::1]:80/", "HTTPS://X.ORG/'onmouseover='alert(1)",
	} {
		f.Add(seed, "bob@example.com")
	}
	f.Add("hi", `"<b>"@example.com`)
	f.Fuzz(func(t *testing.T, text, email string) {
		content, reason := validateMessage(text, 2000)
		sender, emailReason := validateEmail(email)
		if reason != "" || emailReason != "" {
			return
		}
		frame, err := stream.MessageFrame(nil, store.Message{ID: 7, Sender: sender, Content: content})
		if err != nil {
			t.Fatal(err)
		}

		// One event: an id line, data lines, one blank line at the very end.
		if !bytes.HasSuffix(frame, []byte("\n\n")) || bytes.Count(frame, []byte("\n\n")) != 1 {
			t.Fatalf("not exactly one event: %q", frame)
		}
		lines := strings.Split(strings.TrimSuffix(string(frame), "\n\n"), "\n")
		if lines[0] != "id: 7" {
			t.Fatalf("first line %q", lines[0])
		}
		var data []string
		for _, l := range lines[1:] {
			if !strings.HasPrefix(l, "data: ") {
				t.Fatalf("line escapes its data: prefix: %q in %q", l, frame)
			}
			if strings.ContainsRune(l, '\r') {
				t.Fatalf("carriage return inside a data line: %q", l)
			}
			data = append(data, strings.TrimPrefix(l, "data: "))
		}
		html := strings.Join(data, "\n")

		// The markup is ours alone: take it away and no < > " is left.
		parts := messageItem.FindStringSubmatch(html)
		if parts == nil {
			t.Fatalf("not a message item: %q", html)
		}
		said := strings.ReplaceAll(parts[4], "<br>", "")
		// Links are ours too, made of escaped text, and only http(s).
		for _, l := range link.FindAllStringSubmatch(said, -1) {
			if l[1] != l[2] || !strings.HasPrefix(strings.ToLower(l[1]), "http") {
				t.Fatalf("link %q from %q", l[0], text)
			}
		}
		said = link.ReplaceAllString(said, "$2")
		for _, part := range []string{parts[1], parts[2], parts[3], said} {
			if strings.ContainsAny(part, `<>"`) {
				t.Fatalf("user text reached the markup raw: %q (from %q, %q)", part, email, text)
			}
		}
	})
}
