package views

import (
	"context"
	"io"
	"strings"

	"github.com/a-h/templ"
)

// lines shows text with its line breaks, which HTML would otherwise fold into
// spaces. Keeping the breaks as <br> also keeps the fragment on one line, so
// it is always a single SSE data line. It is written in Go rather than templ
// because templ's whitespace rules would put a space around each <br>.
func lines(text string) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		for i, line := range strings.Split(text, "\n") {
			if i > 0 {
				if _, err := io.WriteString(w, "<br>"); err != nil {
					return err
				}
			}
			if _, err := io.WriteString(w, templ.EscapeString(line)); err != nil {
				return err
			}
		}
		return nil
	})
}
