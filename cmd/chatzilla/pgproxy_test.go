package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatzilla/chatzilla/store/storetest"
)

// postgresForTest is a fresh schema's URL whose connections carry an
// application_name unique to this test, so that the test can find (and
// terminate) its own backends and nobody else's.
func postgresForTest(t *testing.T, prefix string) (dbURL, appName string) {
	t.Helper()
	appName = prefix + "-" + strings.ToLower(rand.Text()[:8])
	return storetest.PostgresURL(t) + "&application_name=" + appName, appName
}

// terminateBackends ends the pool connections named appName every so often
// until ctx ends, as a database failover or an operator would.
func terminateBackends(ctx context.Context, t *testing.T, dbURL, appName string, count *atomic.Int64) {
	admin, err := pgx.Connect(ctx, strings.Replace(dbURL, appName, appName+"-admin", 1))
	if err != nil {
		t.Error(err)
		return
	}
	defer admin.Close(context.Background())
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(150 * time.Millisecond):
		}
		var n int64
		err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE application_name = $1 AND pid <> pg_backend_pid()`, appName).Scan(&n)
		if err != nil && ctx.Err() == nil {
			t.Error(err)
			return
		}
		count.Add(n)
	}
}

// commitCutter is a TCP proxy in front of PostgreSQL that, while cutEvery is
// N > 0, cuts every Nth COMMIT's connection just after handing the COMMIT to
// the server: the server commits, and the client never hears so.
type commitCutter struct {
	url      string // the database URL, through the proxy
	cutEvery atomic.Int64
	commits  atomic.Int64
	cuts     atomic.Int64
}

func newCommitCutter(t *testing.T, dbURL string) *commitCutter {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	u.Host = ln.Addr().String()
	cc := &commitCutter{url: u.String()}
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			go cc.serve(client, target)
		}
	}()
	return cc
}

func (cc *commitCutter) serve(client net.Conn, target string) {
	server, err := net.Dial("tcp", target)
	if err != nil {
		client.Close()
		return
	}
	go func() {
		io.Copy(client, server)
		client.Close()
	}()
	defer func() {
		// Closed a moment later, not at once, so that the server has
		// read the COMMIT and committed before it sees the connection end.
		time.AfterFunc(500*time.Millisecond, func() { server.Close() })
	}()

	// The startup message has no type byte: a length, then the rest.
	var head [4]byte
	if _, err := io.ReadFull(client, head[:]); err != nil {
		return
	}
	startup := make([]byte, binary.BigEndian.Uint32(head[:])-4)
	if _, err := io.ReadFull(client, startup); err != nil {
		return
	}
	if _, err := server.Write(append(head[:], startup...)); err != nil {
		return
	}
	// Then every message is a type byte, a length and a body.
	cutAtSync := false
	for {
		var h [5]byte
		if _, err := io.ReadFull(client, h[:]); err != nil {
			return
		}
		body := make([]byte, binary.BigEndian.Uint32(h[1:])-4)
		if _, err := io.ReadFull(client, body); err != nil {
			return
		}
		cut := false
		// COMMIT goes as a simple query ('Q'), or as Parse ('P') and the
		// rest up to Sync ('S') in the extended protocol.
		isCommit := (h[0] == 'Q' || h[0] == 'P') && bytes.Contains(bytes.ToLower(body), []byte("commit"))
		if isCommit {
			if n := cc.cutEvery.Load(); n > 0 && cc.commits.Add(1)%n == 0 {
				cutAtSync = h[0] == 'P'
				cut = h[0] == 'Q'
			}
		}
		if cutAtSync && h[0] == 'S' {
			cut, cutAtSync = true, false
		}
		if _, err := server.Write(append(h[:], body...)); err != nil {
			return
		}
		if cut {
			cc.cuts.Add(1)
			client.Close() // the answer to COMMIT never reaches the client
			return
		}
	}
}

// cuttableProxy stands between the program and PostgreSQL, so that a test
// can take the database away from this program alone: cut closes every
// connection and refuses new ones until restore.
type cuttableProxy struct {
	URL string // the database URL, through the proxy

	t      *testing.T
	target string
	ln     net.Listener

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]bool
	gate  chan struct{} // while not nil, new connections wait for it to close
}

func newCuttableProxy(t *testing.T, databaseURL string) *cuttableProxy {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttableProxy{t: t, target: u.Host, ln: ln, conns: make(map[net.Conn]bool)}
	u.Host = ln.Addr().String()
	p.URL = u.String()
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
	})
	return p
}

func (p *cuttableProxy) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // closed at the end of the test
		}
		p.mu.Lock()
		gate := p.gate
		p.mu.Unlock()
		go p.connect(client, gate)
	}
}

func (p *cuttableProxy) connect(client net.Conn, gate <-chan struct{}) {
	if gate != nil {
		<-gate
	}
	p.mu.Lock()
	down := p.down
	p.mu.Unlock()
	if down {
		client.Close()
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		client.Close()
		server.Close()
		return
	}
	p.conns[client], p.conns[server] = true, true
	go p.pipe(client, server)
	go p.pipe(server, client)
}

// hold makes new connections wait, as a database slow to answer would,
// until release is called.
func (p *cuttableProxy) hold() (release func()) {
	gate := make(chan struct{})
	p.mu.Lock()
	p.gate = gate
	p.mu.Unlock()
	var once sync.Once
	release = func() {
		once.Do(func() {
			p.mu.Lock()
			p.gate = nil
			p.mu.Unlock()
			close(gate)
		})
	}
	p.t.Cleanup(release)
	return release
}

func (p *cuttableProxy) pipe(to, from net.Conn) {
	_, _ = io.Copy(to, from)
	to.Close()
	from.Close()
}

func (p *cuttableProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *cuttableProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}
