// Package storetest gives tests a database of their own: a fresh PostgreSQL
// schema or a new SQLite file, removed when the test ends.
package storetest

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDatabaseURL names the variable that points tests at a PostgreSQL server.
const EnvDatabaseURL = "CHATZILLA_TEST_DATABASE_URL"

// defaultDatabaseURL is the server a developer usually has running locally.
const defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// setupTimeout bounds creating and dropping a schema; a server that takes
// longer is treated as not answering.
const setupTimeout = 10 * time.Second

// PostgresURL returns a URL to a fresh, empty schema of the test PostgreSQL,
// for this test only; the schema is dropped at t.Cleanup. The server comes
// from CHATZILLA_TEST_DATABASE_URL, default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
//
// When the variable is unset and no server answers, the test is skipped. When
// it is set and the server does not answer, the test fails: CI sets it, and
// CI must never pass by skipping.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base, fromEnv := os.LookupEnv(EnvDatabaseURL)
	if !fromEnv || base == "" {
		base, fromEnv = defaultDatabaseURL, false
	}

	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		if fromEnv {
			t.Fatalf("storetest: %s is set but PostgreSQL does not answer: %v", EnvDatabaseURL, err)
		}
		t.Skipf("storetest: no PostgreSQL at the default URL (set %s to point at one): %v", EnvDatabaseURL, err)
	}
	defer conn.Close(ctx)

	// Random, lowercase, and starting with a letter, so it needs no quoting
	// and tests running in parallel (or in several packages) never collide.
	schema := "test_" + strings.ToLower(rand.Text()[:16])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("storetest: create schema: %v", err)
	}
	t.Cleanup(func() { dropSchema(t, base, schema) })

	withPath, err := withSearchPath(base, schema)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	return withPath
}

// withSearchPath adds search_path to a connection string. pgx sends settings
// it does not know as run-time parameters, so every connection made from the
// result, pooled or not, starts in the schema.
func withSearchPath(base, schema string) (string, error) {
	if !strings.HasPrefix(base, "postgres://") && !strings.HasPrefix(base, "postgresql://") {
		// keyword=value form
		return base + " search_path=" + schema, nil
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func dropSchema(t testing.TB, base, schema string) {
	// The test's context is already cancelled when cleanups run.
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Errorf("storetest: drop schema %s: %v", schema, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
		t.Errorf("storetest: drop schema %s: %v", schema, err)
	}
}

// SQLitePath returns a path to a new database file in t.TempDir(). The file
// does not exist yet; opening it creates it.
func SQLitePath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "chatzilla.db")
}
