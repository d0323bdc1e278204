package store_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/chatzilla/chatzilla/store"
)

// The read-side cases of TestBackends.

func testMessagesAfter(t *testing.T, open opener) {
	b := mustOpen(t, open)
	ids := addN(t, b, 7)
	tests := []struct {
		name    string
		afterID int64
		limit   int
		want    []int64
	}{
		{"first page", 0, 3, ids[0:3]},
		{"second page", ids[2], 3, ids[3:6]},
		{"short last page", ids[5], 3, ids[6:]},
		{"nothing after the last", ids[6], 3, nil},
		{"limit larger than the rest", 0, 100, ids},
		{"after an id between rows", ids[3], 1, ids[4:5]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := b.MessagesAfter(t.Context(), tt.afterID, tt.limit)
			if err != nil {
				t.Fatalf("MessagesAfter: %v", err)
			}
			if got == nil {
				t.Error("MessagesAfter returned nil; want an empty slice when there is nothing")
			}
			if !slices.Equal(idsOf(got), tt.want) {
				t.Errorf("MessagesAfter(%d, %d) ids = %v, want %v", tt.afterID, tt.limit, idsOf(got), tt.want)
			}
		})
	}
}

func testRecentMessages(t *testing.T, open opener) {
	b := mustOpen(t, open)
	empty, err := b.RecentMessages(t.Context(), 5)
	if err != nil || len(empty) != 0 {
		t.Fatalf("RecentMessages on an empty store = %v, %v; want none", empty, err)
	}
	ids := addN(t, b, 5)
	tests := []struct {
		limit int
		want  []int64
	}{
		{1, ids[4:]},
		{3, ids[2:]},
		{5, ids},
		{50, ids},
	}
	for _, tt := range tests {
		got, err := b.RecentMessages(t.Context(), tt.limit)
		if err != nil {
			t.Fatalf("RecentMessages(%d): %v", tt.limit, err)
		}
		if !slices.Equal(idsOf(got), tt.want) {
			t.Errorf("RecentMessages(%d) ids = %v, want %v", tt.limit, idsOf(got), tt.want)
		}
	}
}

func testMessagesBefore(t *testing.T, open opener) {
	b := mustOpen(t, open)
	ids := addN(t, b, 6)
	tests := []struct {
		name     string
		beforeID int64
		limit    int
		want     []int64
	}{
		{"the page just above", ids[4], 2, ids[2:4]},
		{"fewer left than the limit", ids[2], 10, ids[0:2]},
		{"nothing before the first", ids[0], 5, nil},
		{"beyond the last id", ids[5] + 1000, 3, ids[3:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := b.MessagesBefore(t.Context(), tt.beforeID, tt.limit)
			if err != nil {
				t.Fatalf("MessagesBefore: %v", err)
			}
			if !slices.Equal(idsOf(got), tt.want) {
				t.Errorf("MessagesBefore(%d, %d) ids = %v, want %v", tt.beforeID, tt.limit, idsOf(got), tt.want)
			}
		})
	}
}

func testNotFound(t *testing.T, open opener) {
	b := mustOpen(t, open)
	if _, err := b.Message(t.Context(), 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Message(1) on an empty store: err = %v, want ErrNotFound", err)
	}
	id := addN(t, b, 1)[0]
	if _, err := b.Message(t.Context(), id); err != nil {
		t.Errorf("Message(%d): %v", id, err)
	}
	if _, err := b.Message(t.Context(), id+1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Message(%d): err = %v, want ErrNotFound", id+1, err)
	}
}

func testLastID(t *testing.T, open opener) {
	b := mustOpen(t, open)
	if got, err := b.LastID(t.Context()); err != nil || got != 0 {
		t.Fatalf("LastID on an empty store = %d, %v; want 0", got, err)
	}
	ids := addN(t, b, 3)
	if got, err := b.LastID(t.Context()); err != nil || got != ids[2] {
		t.Errorf("LastID = %d, %v; want %d", got, err, ids[2])
	}
}

func testBadLimit(t *testing.T, open opener) {
	b := mustOpen(t, open)
	addN(t, b, 2)
	ctx := t.Context()
	for _, limit := range []int{0, -1} {
		if _, err := b.MessagesAfter(ctx, 0, limit); err == nil {
			t.Errorf("MessagesAfter(0, %d): no error", limit)
		}
		if _, err := b.RecentMessages(ctx, limit); err == nil {
			t.Errorf("RecentMessages(%d): no error", limit)
		}
		if _, err := b.MessagesBefore(ctx, 100, limit); err == nil {
			t.Errorf("MessagesBefore(100, %d): no error", limit)
		}
	}
}
