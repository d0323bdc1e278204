package store_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	neturl "net/url"
	"slices"
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
// poster's pool, several times, while goroutines post and read. A post may
// fail only when its commit's outcome is truly unknown, a read never; every
// acknowledged post is stored exactly once, and no post twice.
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
				// Half the posters send a one-time key, half none: without
				// one, only the store's care keeps a retry from storing a
				// message twice.
				key := ""
				if g%2 == 0 {
					key = content
				}
				m, err := p.AddMessageOnce(t.Context(), "ann@example.com", content, key)
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

// TestFollowResumesPromptly measures how soon live delivery resumes after a
// follower loses its connection: when its backend is terminated, and when
// the server goes away for a while and comes back. The bound is loose, for
// a loaded machine; the figures are logged.
func TestFollowResumesPromptly(t *testing.T) {
	t.Parallel()
	const within = 2 * time.Second

	t.Run("backend terminated", func(t *testing.T) {
		t.Parallel()
		url := storetest.PostgresURL(t)
		follower, poster := openPostgres(t, url), openPostgres(t, url)
		admin, err := pgx.Connect(t.Context(), url)
		if err != nil {
			t.Fatalf("connect admin: %v", err)
		}
		t.Cleanup(func() { admin.Close(context.Background()) })
		f := startFollow(t, follower, 0)
		addN(t, poster, 1)
		f.receive(t, 1, within) // listening

		terminateFollower(t, admin, follower.FollowerName())
		m, err := poster.AddMessage(t.Context(), "bob@example.com", "after the cut")
		if err != nil {
			t.Fatal(err)
		}
		stored := time.Now()
		if got := f.receive(t, 1, within)[0]; got.ID != m.ID {
			t.Fatalf("received id %d, want %d", got.ID, m.ID)
		}
		t.Logf("a message stored after the cut was delivered %v later", time.Since(stored).Round(time.Millisecond))
	})

	t.Run("server back after a restart", func(t *testing.T) {
		t.Parallel()
		url := storetest.PostgresURL(t)
		server := newFlakyServer(t, url)
		follower, poster := openPostgres(t, server.url), openPostgres(t, url)
		f := startFollow(t, follower, 0)
		addN(t, poster, 1)
		f.receive(t, 1, within) // listening

		// Long enough for the follower's waits to grow past the cap.
		server.down()
		away := addN(t, poster, 3)
		time.Sleep(1500 * time.Millisecond)
		server.up()
		back := time.Now()
		if got := idsOf(f.receive(t, len(away), within)); !slices.Equal(got, away) {
			t.Fatalf("caught up with ids %v, want %v", got, away)
		}
		t.Logf("caught up %v after the server took connections again", time.Since(back).Round(time.Millisecond))

		m, err := poster.AddMessage(t.Context(), "bob@example.com", "live again")
		if err != nil {
			t.Fatal(err)
		}
		if got := f.receive(t, 1, within)[0]; got.ID != m.ID {
			t.Fatalf("received id %d, want %d", got.ID, m.ID)
		}
		f.expectNothing(t, 100*time.Millisecond)
	})
}

// flakyServer stands between a store and PostgreSQL, forwarding TCP, and
// can go away (refusing connections and cutting those it carries) and come
// back at the same address, as a restarting server does, without touching
// the real server others share.
type flakyServer struct {
	t      *testing.T
	url    string // the database's URL, pointing here
	target string // host:port of the real server

	mu    sync.Mutex
	addr  string       // where it listens; the port is kept across restarts
	ln    net.Listener // nil while down
	conns []net.Conn
}

func newFlakyServer(t *testing.T, dbURL string) *flakyServer {
	t.Helper()
	u, err := neturl.Parse(dbURL)
	if err != nil || u.Host == "" {
		t.Skipf("flakyServer needs a postgres:// URL, not %q", dbURL)
	}
	s := &flakyServer{t: t, target: u.Host, addr: "127.0.0.1:0"}
	if u.Port() == "" {
		s.target = net.JoinHostPort(u.Hostname(), "5432")
	}
	s.up()
	u.Host = s.addr
	s.url = u.String()
	t.Cleanup(s.down)
	return s
}

// up starts taking connections.
func (s *flakyServer) up() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatalf("flakyServer: listen on %s: %v", s.addr, err)
	}
	s.ln, s.addr = ln, ln.Addr().String()
	go s.accept(ln)
}

// down refuses new connections and cuts the open ones.
func (s *flakyServer) down() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}

func (s *flakyServer) accept(ln net.Listener) {
	for {
		client, err := ln.Accept()
		if err != nil {
			return // closed by down
		}
		server, err := net.Dial("tcp", s.target)
		if err != nil {
			client.Close()
			continue
		}
		s.mu.Lock()
		if s.ln != ln { // went down meanwhile
			s.mu.Unlock()
			client.Close()
			server.Close()
			return
		}
		s.conns = append(s.conns, client, server)
		s.mu.Unlock()
		go forward(client, server)
		go forward(server, client)
	}
}

func forward(dst, src net.Conn) {
	io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// TestWritesAfterIdleConnectionsTerminated terminates every connection of a
// pool while none is in use, as a restart or an operator would, and then
// writes. Nothing was in flight, so nothing is in doubt: each write must
// succeed, on a fresh connection, though the pool's were all dead.
func TestWritesAfterIdleConnectionsTerminated(t *testing.T) {
	t.Parallel()
	token := store.SignInToken{
		Hash:      store.SignInTokenHash("a token"),
		Email:     "ann@example.com",
		ExpiresAt: time.Now().Add(time.Hour),
	}
	tests := []struct {
		name  string
		write func(ctx context.Context, p *store.Postgres) error
	}{
		{"start session", func(ctx context.Context, p *store.Postgres) error {
			return p.StartSession(ctx, "session-2", "ann@example.com")
		}},
		{"touch session", func(ctx context.Context, p *store.Postgres) error {
			return p.TouchSession(ctx, "session-1")
		}},
		{"end session", func(ctx context.Context, p *store.Postgres) error {
			return p.EndSession(ctx, "session-1")
		}},
		{"create sign-in token", func(ctx context.Context, p *store.Postgres) error {
			return p.CreateSignInToken(ctx, token)
		}},
		{"post", func(ctx context.Context, p *store.Postgres) error {
			_, err := p.AddMessage(ctx, "ann@example.com", "hello")
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url, app := withAppName(t, storetest.PostgresURL(t))
			p := openPostgres(t, url)
			admin, err := pgx.Connect(t.Context(), url)
			if err != nil {
				t.Fatalf("connect admin: %v", err)
			}
			t.Cleanup(func() { admin.Close(context.Background()) })
			if _, err := admin.Exec(t.Context(), `SET application_name = 'hiccup-admin'`); err != nil {
				t.Fatal(err)
			}
			if err := p.StartSession(t.Context(), "session-1", "ann@example.com"); err != nil {
				t.Fatal(err)
			}

			if n := terminateBackends(t, admin, app); n == 0 {
				t.Fatal("terminated no backend")
			}
			waitGone(t, admin, app)
			if err := tt.write(t.Context(), p); err != nil {
				t.Errorf("%s after the pool's connections were terminated: %v", tt.name, err)
			}
		})
	}
}

// waitGone waits until no backend named name is left, so the server has
// hung up on each of their connections.
func waitGone(t *testing.T, admin *pgx.Conn, name string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		var n int
		if err := admin.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = $1 AND datname = current_database()`, name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatalf("backends named %s still there after 5s", name)
}
