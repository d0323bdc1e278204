package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/store/storetest"
)

// TestChangesReachEveryInstance announces changes on one instance of a
// PostgreSQL database and hears them on another, through its follower, as
// they were sent: an address with spaces and symbols included.
func TestChangesReachEveryInstance(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	listener, announcer := openPostgres(t, url), openPostgres(t, url)
	heard := make(chan store.Change, 10)
	listener.OnChange(func(c store.Change) { heard <- c })
	f := startFollow(t, listener, 0)
	// Once a message has come through, the follower is listening.
	if _, err := announcer.AddMessage(t.Context(), "ann@example.com", "hello"); err != nil {
		t.Fatal(err)
	}
	f.receive(t, 1, 5*time.Second)

	want := []store.Change{
		{Email: "ann@example.com", Room: 7},
		{Email: `"odd one"+x@example.com`, Room: store.GeneralID, Members: true},
	}
	for _, c := range want {
		if err := announcer.Announce(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range want {
		select {
		case got := <-heard:
			if got != w {
				t.Errorf("heard %+v, want %+v", got, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no change heard within 5 s, want %+v", w)
		}
	}
}

func TestChangesOnSQLiteReachThisProcess(t *testing.T) {
	t.Parallel()
	st, err := store.OpenSQLite(context.Background(), storetest.SQLitePath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var got store.Change
	st.OnChange(func(c store.Change) { got = c })
	want := store.Change{Email: "bob@example.com", Room: 3, Members: true}
	if err := st.Announce(t.Context(), want); err != nil || got != want {
		t.Errorf("Announce: %v; heard %+v, want %+v", err, got, want)
	}
}
