package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/store/storetest"
)

func TestPresenceDirectory(t *testing.T) {
	url := storetest.PostgresURL(t)
	ctx := t.Context()
	pg, err := store.OpenPostgres(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	a, b := pg.Presence("a"), pg.Presence("b")

	online := func(want ...string) {
		t.Helper()
		got, err := a.Online(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want == nil {
			want = []string{}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("online %q, want %q", got, want)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	online()
	must(a.Arrive(ctx, []string{"zoe@example.com", "ann@example.com", "ann@example.com"})) // twice: still once
	must(a.Arrive(ctx, []string{"ann@example.com"}))                                       // again: still once
	must(b.Arrive(ctx, []string{"ann@example.com"}))                                       // on two instances: once
	must(b.Arrive(ctx, []string{"Bob@example.com"}))
	online("Bob@example.com", "ann@example.com", "zoe@example.com") // byte order
	must(a.Depart(ctx, []string{"ann@example.com"}))
	online("Bob@example.com", "ann@example.com", "zoe@example.com") // b still has ann
	must(b.Refresh(ctx, []string{"Bob@example.com"}))               // b lost ann
	online("Bob@example.com", "zoe@example.com")
	must(b.Arrive(ctx, []string{"cy@example.com", "dee@example.com"}))
	must(b.Depart(ctx, []string{"cy@example.com", "Bob@example.com", "nobody@example.com"}))
	online("dee@example.com", "zoe@example.com")
	must(b.Refresh(ctx, []string{"Bob@example.com"})) // back to Bob alone
	online("Bob@example.com", "zoe@example.com")

	// An instance that stops refreshing is forgotten.
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `UPDATE presence SET seen_at = now() - interval '1 hour' WHERE instance = 'a'`); err != nil {
		t.Fatal(err)
	}
	online("Bob@example.com")
	must(b.Refresh(ctx, []string{"Bob@example.com"}))
	var rows int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM presence WHERE instance = 'a'`).Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("expired rows left: %d (%v)", rows, err)
	}
	must(b.Refresh(ctx, nil)) // stopping
	online()
}

// What one SQLite process keeps of who is online, the next takes once, and
// only if it is recent.
func TestKeepOnline(t *testing.T) {
	ctx := t.Context()
	lite, err := store.OpenSQLite(ctx, storetest.SQLitePath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	take := func(since time.Time, want ...string) {
		t.Helper()
		got, err := lite.TakeOnline(ctx, since)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("took %q, want %q", got, want)
		}
	}
	keep := func(emails ...string) {
		t.Helper()
		if err := lite.KeepOnline(ctx, emails); err != nil {
			t.Fatal(err)
		}
	}
	take(time.Time{}) // nothing kept yet
	keep()            // no one
	take(time.Time{})
	keep("old@example.com")
	keep("bob@example.com", "ann@example.com", "bob@example.com") // replaces the list
	take(time.Now().Add(-time.Minute), "ann@example.com", "bob@example.com")
	take(time.Time{}) // taken once

	keep("ann@example.com")
	take(time.Now().Add(time.Second)) // kept before since: too old
	take(time.Time{})                 // and forgotten all the same
}
