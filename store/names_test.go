package store_test

import (
	"context"
	"maps"
	"testing"
)

// TestDisplayNames: who's online shows the names of those who have one;
// addresses without one, unknown addresses and cleared names are left out.
func TestDisplayNames(t *testing.T) {
	eachBackend(t, func(t *testing.T, open opener) {
		b, ok := mustOpen(t, open).(interface {
			SetDisplayName(ctx context.Context, email, name, nameKey string) error
			DisplayNames(ctx context.Context, emails []string) (map[string]string, error)
		})
		if !ok {
			t.Fatal("the backend has no DisplayNames")
		}
		ctx := t.Context()
		for _, p := range []struct{ email, name, key string }{
			{"ann@example.com", "Ann Lee", "annlee"},
			{"bob@example.com", "Bob", "bob"},
			{"cy@example.com", "Cy", "cy"},
			{"cy@example.com", "", ""}, // cleared
		} {
			if err := b.SetDisplayName(ctx, p.email, p.name, p.key); err != nil {
				t.Fatal(err)
			}
		}
		got, err := b.DisplayNames(ctx, []string{"ann@example.com", "cy@example.com", "dee@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]string{"ann@example.com": "Ann Lee"}; !maps.Equal(got, want) {
			t.Errorf("DisplayNames = %v, want %v", got, want)
		}
		if got, err := b.DisplayNames(ctx, nil); err != nil || len(got) != 0 {
			t.Errorf("DisplayNames(nil) = %v, %v", got, err)
		}
	})
}
