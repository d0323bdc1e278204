package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"time"
)

const (
	// stopLimit is how long the old process gets, after SIGTERM, to stop
	// listening or exit: Heroku's limit before it kills a dyno.
	stopLimit = 30 * time.Second
	// readyLimit is how long the new process gets to answer /healthz.
	readyLimit = 60 * time.Second
	// restartPoll is how often the old process and /healthz are checked,
	// often enough to add little to the readiness it measures.
	restartPoll = 10 * time.Millisecond
	// listenProbe bounds one check that the old process still listens.
	listenProbe = 200 * time.Millisecond
)

// restartReport is the tool restarting the server mid-run (-restart-after).
// Times are from SIGTERM, except At, which is from the start of posting.
type restartReport struct {
	PID       int         `json:"pid"`
	AtMS      float64     `json:"sigterm_at_ms"`
	StoppedMS float64     `json:"stopped_ms"` // the old process exited or stopped listening
	ReadyMS   float64     `json:"ready_ms"`   // /healthz answered 200 again
	Command   string      `json:"command,omitempty"`
	NewPID    int         `json:"new_pid,omitempty"`    // the command's process, still running once ready
	NewServer *procSample `json:"new_server,omitempty"` // its memory and CPU at the end of the run
	Error     string      `json:"error,omitempty"`

	// ready is zero if it never answered; stopped is when the tool saw the
	// old process gone or no longer listening.
	term, stopped, ready time.Time
}

// restartServer sends SIGTERM to -pid, waits until the old process has
// stopped listening (so that the new one can take the port), runs
// -restart-cmd if there is one, and waits for /healthz to answer 200: from
// the new process, or from whatever else restarts the server. Meanwhile the
// storm rages. The command runs in a process group of its own, so that
// interrupting the load client does not stop the new server, and writes to
// the client's stderr when that is a file.
//
// The posters' idle connections are dropped at each step: pages keep theirs
// to Heroku's router, not to the dyno. Without this, a post sent as the old
// process closes its idle connection gets EOF, an outcome the client cannot
// know, and counts as failed; one on a connection opened after SIGTERM,
// before the old process stopped listening, still can.
func restartServer(ctx context.Context, cfg config, sh *streamShared, posts *http.Client, progress io.Writer, postStart time.Time) *restartReport {
	st := sh.storm
	r := &restartReport{PID: cfg.PID, Command: cfg.RestartCommand}
	st.restarting.Store(true)
	st.rise(time.Now())
	defer func() {
		st.restarting.Store(false)
		st.calmIfOver()
	}()
	r.term = time.Now()
	r.AtMS = ms(r.term.Sub(postStart))
	logf(progress, "restart: SIGTERM to %d", cfg.PID)
	if err := terminate(cfg.PID); err != nil {
		r.Error = fmt.Sprintf("SIGTERM to %d: %v", cfg.PID, err)
		return r
	}
	posts.CloseIdleConnections()
	defer posts.CloseIdleConnections()
	stopped := waitFor(ctx, stopLimit, func() bool { return processGone(cfg.PID) || !listening(sh.addr) })
	switch {
	case ctx.Err() != nil:
		r.Error = "interrupted"
		return r
	case !stopped:
		r.Error = fmt.Sprintf("process %d still listening %s after SIGTERM", cfg.PID, stopLimit)
		return r
	}
	r.stopped = time.Now()
	r.StoppedMS = ms(r.stopped.Sub(r.term))
	posts.CloseIdleConnections()

	var cmd *exec.Cmd
	exited := make(chan struct{})
	var cmdErr error // written before exited is closed
	if cfg.RestartCommand != "" {
		cmd = exec.Command("sh", "-c", cfg.RestartCommand)
		detach(cmd)
		if f, ok := progress.(*os.File); ok {
			cmd.Stdout, cmd.Stderr = f, f
		}
		if err := cmd.Start(); err != nil {
			r.Error = fmt.Sprintf("-restart-cmd: %v", err)
			return r
		}
		go func() {
			cmdErr = cmd.Wait()
			close(exited)
		}()
	}
	// A client of its own, without kept-alive connections, so that no check
	// goes to the old process on a connection it still holds.
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	defer client.CloseIdleConnections()
	healthz := cfg.URL.JoinPath("healthz").String()
	failed := false
	ready := waitFor(ctx, readyLimit, func() bool {
		select {
		case <-exited:
			if cmdErr != nil {
				failed = true
				return true
			}
		default:
		}
		return healthy(ctx, client, healthz)
	})
	switch {
	case ctx.Err() != nil:
		r.Error = "interrupted"
		return r
	case failed:
		r.Error = fmt.Sprintf("-restart-cmd: %v", cmdErr)
		return r
	case !ready:
		r.Error = fmt.Sprintf("/healthz did not answer 200 within %s of the old process stopping", readyLimit)
		return r
	}
	r.ready = time.Now()
	r.ReadyMS = ms(r.ready.Sub(r.term))
	if cmd != nil {
		select {
		case <-exited: // it started the server some other way
		default:
			r.NewPID = cmd.Process.Pid
		}
	}
	logf(progress, "restart: /healthz answered %s after SIGTERM", r.ready.Sub(r.term).Round(time.Millisecond))
	return r
}

// waitFor checks done every restartPoll until it says yes (true), limit
// passes or ctx ends (false).
func waitFor(ctx context.Context, limit time.Duration, done func() bool) bool {
	deadline := time.Now().Add(limit)
	for {
		if done() {
			return true
		}
		if time.Now().After(deadline) || !sleepUntil(ctx, time.Now().Add(restartPoll)) {
			return false
		}
	}
}

// listening says whether something accepts connections at addr. Only a
// refusal says no: a slow answer under a storm is still an answer.
func listening(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, listenProbe)
	if err != nil {
		return !errors.Is(err, errConnRefused)
	}
	conn.Close()
	return true
}

func healthy(ctx context.Context, c *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
