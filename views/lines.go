package views

import (
	"context"
	"io"
	"net/url"
	"regexp"
	"strings"

	"github.com/a-h/templ"
)

// lines shows text with its line breaks, which HTML would otherwise fold into
// spaces, and its web addresses as links. Keeping the breaks as <br> also
// keeps the fragment on one line, so it is always a single SSE data line. It
// is written in Go rather than templ because templ's whitespace rules would
// put a space around each <br>.
func lines(text string) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		var b strings.Builder
		for i, line := range strings.Split(text, "\n") {
			if i > 0 {
				b.WriteString("<br>")
			}
			writeLinked(&b, line)
		}
		_, err := io.WriteString(w, b.String())
		return err
	})
}

// webAddress finds what could be an http(s) address: the scheme, then
// everything up to a space or a character that cannot be in one unescaped.
// Other schemes (javascript:, data:, …) are never links.
var webAddress = regexp.MustCompile(`(?i)\bhttps?://[^\s<>"` + "`" + `]+`)

// linkRel keeps a linked page from reaching back into the chat
// (noopener), learning where its visitors came from (noreferrer), or
// gaining search rank from what anyone can post (nofollow ugc).
const linkRel = "noopener noreferrer nofollow ugc"

// writeLinked writes one line of user text, escaped, with each web address
// in it as a link. The link is made from the text, never from markup in it:
// both its href and its text are escaped like the rest.
func writeLinked(b *strings.Builder, line string) {
	for {
		loc := webAddress.FindStringIndex(line)
		if loc == nil {
			b.WriteString(templ.EscapeString(line))
			return
		}
		addr := trimTrailing(line[loc[0]:loc[1]])
		end := loc[0] + len(addr)
		b.WriteString(templ.EscapeString(line[:loc[0]]))
		if u, err := url.Parse(addr); err == nil && u.Host != "" {
			esc := templ.EscapeString(addr)
			b.WriteString(`<a href="` + esc + `" rel="` + linkRel + `" target="_blank">` + esc + `</a>`)
		} else {
			b.WriteString(templ.EscapeString(addr))
		}
		line = line[end:]
	}
}

// trimTrailing takes off what ends a sentence rather than an address: "see
// https://example.com." links without the full stop, and "(https://x.org/a)"
// without the closing bracket, while "https://x.org/a_(b)" keeps its own.
func trimTrailing(addr string) string {
	for len(addr) > 0 {
		last := addr[len(addr)-1]
		switch {
		case strings.IndexByte(".,;:!?'*", last) >= 0:
		case last == ')' && strings.Count(addr, "(") < strings.Count(addr, ")"):
		case last == ']' && strings.Count(addr, "[") < strings.Count(addr, "]"):
		default:
			return addr
		}
		addr = addr[:len(addr)-1]
	}
	return addr
}
