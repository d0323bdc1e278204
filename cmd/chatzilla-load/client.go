package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// user is one joined member of the chat. Each has its own session, as each
// person in a browser would.
type user struct {
	email  string
	cookie string // the Cookie header that proves the session; "" if the join failed
}

// newHTTPClient is the one client for joins and posts. Redirects are not
// followed (a 303 is the server's "accepted"), no proxy from the environment
// is used (only -url is ever contacted), and there is no limit on
// connections per host, with enough idle ones kept for every request in
// flight to reuse its connection.
func newHTTPClient(concurrency int, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxConnsPerHost:     0,
		MaxIdleConnsPerHost: concurrency,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: timeout,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// postForm sends a form with the user's cookie and returns the response with
// its body read and closed, so that the connection goes back to the pool.
// htmx makes it an htmx request, which the server answers 200 when it
// accepts a message and 401 when the session is not recognised; a plain
// form gets a 303 to the home page in both cases.
func postForm(ctx context.Context, c *http.Client, to *url.URL, cookie string, form url.Values, htmx bool) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, to.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	if htmx {
		req.Header.Set("HX-Request", "true")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp, nil
}

// join starts a session for email and returns the cookies to send back.
func join(ctx context.Context, c *http.Client, base *url.URL, email string) (string, error) {
	resp, err := postForm(ctx, c, base.JoinPath("join"), "", url.Values{"email": {email}}, false)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("join %s: %s", email, resp.Status)
	}
	var pairs []string
	for _, ck := range resp.Cookies() {
		pairs = append(pairs, ck.Name+"="+ck.Value)
	}
	if len(pairs) == 0 {
		return "", fmt.Errorf("join %s: no session cookie in the answer", email)
	}
	return strings.Join(pairs, "; "), nil
}

// joinAll joins every user, at most concurrency at a time, and returns how
// many joins failed and the first failure.
func joinAll(ctx context.Context, c *http.Client, base *url.URL, users []*user, concurrency int) (failed int, first error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, concurrency)
	for i, u := range users {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return failed + len(users) - i, ctx.Err()
		}
		wg.Go(func() {
			defer func() { <-sem }()
			cookie, err := join(ctx, c, base, u.email)
			u.cookie = cookie
			if err != nil {
				mu.Lock()
				failed++
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return failed, first
}

// errorKind names a failed request in the report without its URL and
// details, so that a thousand timeouts are one line.
func errorKind(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case strings.Contains(err.Error(), "connection refused"):
		return "refused"
	case strings.Contains(err.Error(), "connection reset"):
		return "reset"
	}
	return "error"
}

// sleepUntil waits for t and reports whether ctx is still live.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func checkHealth(ctx context.Context, c *http.Client, base *url.URL) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base.JoinPath("healthz").String(), nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%s is not answering: %w", base, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s/healthz: %s", base, resp.Status)
	}
	return nil
}
