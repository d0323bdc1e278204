package stream

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// When the server shuts down (a deploy, or Heroku's daily restart), every
// open page reconnects to the next process at once. Each stream is told,
// with the SSE retry field of a last event, to wait a random time first:
// at least restartRetryMin, spread over restartRetryPerStream for each
// stream open, up to restartSpreadMax. A few pages reconnect almost
// together; 10,000 arrive over a second instead of within htmx's own 0.5 s
// (±30%), which on two cores keeps the new process's accept queue short
// and the live messages of those already back on time.
//
// htmx's SSE extension keeps a retry field as the base of that page's later
// reconnects, which it doubles after each failed one; chat.js puts its own
// default back once the stream is open again. A browser's EventSource keeps
// it too, which is harmless: it never doubles it.
const (
	restartRetryMin       = 100 * time.Millisecond
	restartRetryPerStream = 100 * time.Microsecond // 10,000 reconnects a second
	restartSpreadMax      = time.Second
)

// restartEvent names the last event of a stream ended by a shutdown: chat.js
// ignores it, what matters is its retry field.
const restartEvent = "chatzilla-restart"

// restartSpread is how widely the reconnects of open streams are spread.
func restartSpread(open int) time.Duration {
	return min(time.Duration(max(open, 0))*restartRetryPerStream, restartSpreadMax)
}

// restartRetry is one stream's wait, at random over spread.
func restartRetry(spread time.Duration) time.Duration {
	return restartRetryMin + rand.N(max(spread, 0)+1)
}

// restartFrame is the last event of a stream ended by a shutdown.
func restartFrame(retry time.Duration) []byte {
	b := []byte("event: " + restartEvent + "\nretry: ")
	b = strconv.AppendInt(b, retry.Milliseconds(), 10)
	return append(b, "\ndata: \n\n"...)
}

// sayRestart tells the client how long to wait before it reconnects. It
// runs on the stream's goroutine once the hub has closed (so nothing else
// writes to the connection), and gives a slow client one second.
func (st *Stream) sayRestart() {
	if err := st.conn.SetWriteDeadline(time.Now().Add(time.Second)); err != nil {
		return
	}
	_, _ = st.w.Write(restartFrame(restartRetry(time.Duration(st.p.spread.Load())))) // it ends either way
}
