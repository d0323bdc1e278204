package store_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/store/storetest"
)

// withAppName gives every connection made from url an application_name of
// its own, so a test can find its pool's backends in pg_stat_activity.
func withAppName(t *testing.T, url string) (string, string) {
	t.Helper()
	name := "hiccup-" + strings.ToLower(rand.Text()[:12])
	if strings.Contains(url, "://") {
		return url + "&application_name=" + name, name
	}
	return url + " application_name=" + name, name // keyword=value form
}

// terminateBackends terminates every backend named exactly name (the
// pool's; the follower's name only starts with it) and says how many.
func terminateBackends(t *testing.T, admin *pgx.Conn, name string) int {
	t.Helper()
	var n int
	err := admin.QueryRow(context.Background(), `
		SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
		FROM pg_stat_activity
		WHERE application_name = $1 AND datname = current_database()`, name).Scan(&n)
	if err != nil {
		t.Errorf("terminate backends: %v", err)
	}
	return n
}

// TestPostsSurviveTerminatedBackends terminates every connection of the
// poster's pool, several times, while goroutines post. A post may fail only
// when its commit's outcome is truly unknown; every acknowledged post is
// stored exactly once.
func TestPostsSurviveTerminatedBackends(t *testing.T) {
	t.Parallel()
	url, app := withAppName(t, storetest.PostgresURL(t))
	p := openPostgres(t, url)
	admin, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect admin: %v", err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	// The admin connection carries the same name: rename it, so it does not
	// terminate itself.
	if _, err := admin.Exec(t.Context(), `SET application_name = 'hiccup-admin'`); err != nil {
		t.Fatal(err)
	}

	const posters, each = 8, 25
	var posted atomic.Int64
	var mu sync.Mutex
	acked := map[string]int64{} // content → id
	unknown := 0
	var wg sync.WaitGroup
	for g := range posters {
		wg.Go(func() {
			for i := range each {
				content := fmt.Sprintf("%d-%d", g, i)
				m, err := p.AddMessageOnce(t.Context(), "ann@example.com", content, content)
				mu.Lock()
				switch {
				case err == nil:
					acked[content] = m.ID
				case errors.Is(err, store.ErrOutcomeUnknown):
					unknown++
				default:
					t.Errorf("post %s: %v", content, err)
				}
				mu.Unlock()
				posted.Add(1)
				// Reads keep several connections in the pool, so a cut leaves
				// idle ones dead; a read has no outcome to lose, so it must
				// never fail.
				if _, err := p.RecentMessages(t.Context(), 10); err != nil {
					t.Errorf("read after post %s: %v", content, err)
				}
				time.Sleep(2 * time.Millisecond) // spread posts over the cuts
			}
		})
	}

	// Cut at fixed points, so each cut lands while posts are in flight and
	// the pool holds connections that are idle and already dead.
	terminated := 0
	for _, at := range []int64{30, 80, 130} {
		for posted.Load() < at {
			time.Sleep(time.Millisecond)
		}
		terminated += terminateBackends(t, admin, app)
	}
	wg.Wait()
	if terminated == 0 {
		t.Fatal("terminated no backend: the test cut nothing")
	}

	all, err := p.MessagesAfter(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string][]int64{}
	for _, m := range all {
		stored[m.Content] = append(stored[m.Content], m.ID)
	}
	for content, id := range acked {
		if ids := stored[content]; len(ids) != 1 || ids[0] != id {
			t.Errorf("post %s acknowledged as id %d, stored as ids %v", content, id, ids)
		}
	}
	for content, ids := range stored {
		if len(ids) > 1 {
			t.Errorf("post %s stored %d times: ids %v", content, len(ids), ids)
		}
	}
	t.Logf("%d backends terminated; %d posts acknowledged, %d with an unknown outcome, %d stored",
		terminated, len(acked), unknown, len(all))
}
