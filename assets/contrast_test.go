package assets

import (
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestColourContrast checks the palette in app.css against WCAG 2 level AA
// (4.5:1 for text), in the light and the dark theme: every pair of text and
// background colours the stylesheet uses, and the white initials on each
// avatar colour.
func TestColourContrast(t *testing.T) {
	css, err := os.ReadFile("static/app.css")
	if err != nil {
		t.Fatal(err)
	}
	text := string(css)
	dark := strings.Index(text, "@media (prefers-color-scheme: dark)")
	if dark < 0 {
		t.Fatal("app.css has no dark theme")
	}
	themes := map[string]map[string]string{
		"light": customProperties(text[:dark]),
		"dark":  customProperties(text[dark:]),
	}
	// Foreground on background, as app.css combines them.
	pairs := [][2]string{
		{"text", "bg"}, {"text", "panel"}, {"text", "border"}, // .count
		{"muted", "bg"}, {"muted", "panel"},
		{"accent", "bg"}, {"accent", "panel"}, // links, secondary buttons
		{"accent-text", "accent"}, // buttons
		{"error", "bg"}, {"error", "panel"},
		{"notice-text", "notice-bg"},
		{"text", "hover"}, {"muted", "hover"}, {"accent", "hover"}, // a message under the pointer
		{"text", "own"}, {"muted", "own"}, {"accent", "own"}, // your own messages
		{"text", "selected"}, {"muted", "selected"}, // the room shown, in the sidebar
	}
	for theme, vars := range themes {
		for _, p := range pairs {
			fg, bg := vars[p[0]], vars[p[1]]
			if fg == "" || bg == "" {
				t.Errorf("%s theme: --%s or --%s is not set", theme, p[0], p[1])
				continue
			}
			if r := contrast(t, fg, bg); r < 4.5 {
				t.Errorf("%s theme: --%s %s on --%s %s has contrast %.2f:1, want at least 4.5:1", theme, p[0], fg, p[1], bg, r)
			}
		}
	}

	avatars := regexp.MustCompile(`\.av-\d+ \{ --av: (#[0-9a-fA-F]{6}); \}`).FindAllStringSubmatch(text, -1)
	if len(avatars) < 16 {
		t.Fatalf("found %d avatar colours in app.css, want at least 16", len(avatars))
	}
	for _, m := range avatars {
		if r := contrast(t, "#ffffff", m[1]); r < 4.5 {
			t.Errorf("white initials on avatar colour %s: %.2f:1, want at least 4.5:1", m[1], r)
		}
	}
	// Two people with different colours must be told apart at a glance:
	// every pair differs by at least minAvatarDistance in CIELAB (ΔE*76;
	// about 2.3 is the smallest difference people notice).
	const minAvatarDistance = 20
	for i, a := range avatars {
		for _, b := range avatars[i+1:] {
			if d := labDistance(t, a[1], b[1]); d < minAvatarDistance {
				t.Errorf("avatar colours %s and %s are %.1f apart in CIELAB, want at least %d", a[1], b[1], d, minAvatarDistance)
			}
		}
	}
}

// labDistance is the CIE76 colour difference of two #rrggbb colours.
func labDistance(t *testing.T, a, b string) float64 {
	la, lb := lab(t, a), lab(t, b)
	return math.Sqrt((la[0]-lb[0])*(la[0]-lb[0]) + (la[1]-lb[1])*(la[1]-lb[1]) + (la[2]-lb[2])*(la[2]-lb[2]))
}

// lab converts an sRGB #rrggbb colour to CIELAB (D65 white).
func lab(t *testing.T, hex string) [3]float64 {
	t.Helper()
	var c [3]float64
	for i := range c {
		v, err := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		if err != nil {
			t.Fatal(fmt.Errorf("colour %q: %w", hex, err))
		}
		c[i] = linear(float64(v) / 255)
	}
	x := (0.4124*c[0] + 0.3576*c[1] + 0.1805*c[2]) / 0.95047
	y := 0.2126*c[0] + 0.7152*c[1] + 0.0722*c[2]
	z := (0.0193*c[0] + 0.1192*c[1] + 0.9505*c[2]) / 1.08883
	f := func(v float64) float64 {
		if v > 216.0/24389 {
			return math.Cbrt(v)
		}
		return (24389.0/27*v + 16) / 116
	}
	return [3]float64{116*f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))}
}

// linear undoes sRGB's gamma for one channel in 0…1.
func linear(c float64) float64 {
	if c <= 0.04045 {
		return c / 12.92
	}
	return math.Pow((c+0.055)/1.055, 2.4)
}

// customProperties returns the first `--name: #rrggbb;` of each name in css.
func customProperties(css string) map[string]string {
	vars := make(map[string]string)
	for _, m := range regexp.MustCompile(`--([a-z-]+):\s*(#[0-9a-fA-F]{6})\s*;`).FindAllStringSubmatch(css, -1) {
		if _, ok := vars[m[1]]; !ok {
			vars[m[1]] = m[2]
		}
	}
	return vars
}

// contrast is the WCAG 2 contrast ratio of two #rrggbb colours.
func contrast(t *testing.T, a, b string) float64 {
	la, lb := luminance(t, a), luminance(t, b)
	return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
}

// luminance is the WCAG 2 relative luminance of a #rrggbb colour.
func luminance(t *testing.T, hex string) float64 {
	t.Helper()
	var channels [3]float64
	for i := range channels {
		v, err := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		if err != nil {
			t.Fatal(fmt.Errorf("colour %q: %w", hex, err))
		}
		channels[i] = linear(float64(v) / 255)
	}
	return 0.2126*channels[0] + 0.7152*channels[1] + 0.0722*channels[2]
}
