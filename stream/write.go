package stream

import (
	"bytes"
	"net/http"
	"time"
)

// SetHeader sets the headers of a stream's response. A HEAD request gets
// them too, without a stream.
func SetHeader(h http.Header) {
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx and friends: do not buffer
}

// head is the response head, written by hand since the connection is taken
// over. It keeps the headers middleware set (security headers). The body
// ends when the connection closes, so it needs no chunked framing.
func head(set http.Header) []byte {
	h := set.Clone()
	SetHeader(h)
	h.Set("Connection", "close")
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 200 OK\r\n")
	_ = h.Write(&b)
	b.WriteString("\r\n: connected\r\n\r\n")
	return b.Bytes()
}

func (st *Stream) send(b []byte) error {
	st.batch = append(st.batch, b)
	return st.flush()
}

// flush writes the batch with one system call (writev). Every write gets at
// least half the write timeout: the deadline is moved only when less than
// that is left, since moving it costs more than the write of a small frame.
func (st *Stream) flush() error {
	if len(st.batch) == 0 {
		return nil
	}
	timeout := st.p.writeTimeout
	if now := time.Now(); st.deadline.Sub(now) < timeout/2 {
		st.deadline = now.Add(timeout)
		if err := st.conn.SetWriteDeadline(st.deadline); err != nil {
			return err
		}
	}
	bufs := st.batch // WriteTo consumes its receiver; keep st.batch's array
	_, err := bufs.WriteTo(st.w)
	if cap(st.batch) > maxBatch {
		st.batch = nil // a page of replay: more than the live loop ever queues
	} else {
		clear(st.batch) // let go of frames already sent
		st.batch = st.batch[:0]
	}
	return err
}
