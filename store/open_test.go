package store_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatzilla/chatzilla/store"
)

// TestOpenSQLiteOddPath opens a file whose path has the characters a SQLite
// URI treats specially; the database must land at exactly that path.
func TestOpenSQLiteOddPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "odd ?dir#50%")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "chat.db")
	s, err := store.OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatalf("OpenSQLite(%q): %v", path, err)
	}
	defer s.Close()
	if _, err := s.AddMessage(t.Context(), "ann@example.com", "hi"); err != nil {
		t.Fatalf("AddMessage: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file not at the given path: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	missingDir := filepath.Join(t.TempDir(), "missing", "chat.db")
	tests := []struct {
		name string
		open func() error
	}{
		{"sqlite empty path", func() error { _, err := store.OpenSQLite(t.Context(), ""); return err }},
		{"sqlite directory missing", func() error { _, err := store.OpenSQLite(t.Context(), missingDir); return err }},
		{"postgres malformed url", func() error { _, err := store.OpenPostgres(t.Context(), "postgres://%zz"); return err }},
		{"postgres nobody listening", func() error {
			_, err := store.OpenPostgres(t.Context(), "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.open()
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "store: open ") {
				t.Errorf("error %q does not say it is from opening the store", err)
			}
		})
	}
}
