package main

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A flood of one message is logged up to the limit and then counted, in one
// line as the second ends; other messages, warnings and the next second
// are not held back by it.
func TestLogFloodIsCounted(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	h := newLimitedHandler(slog.NewTextHandler(&out, nil), 10)
	second := time.Now() // every record below is stamped within this second
	handle := func(h slog.Handler, level slog.Level, msg string) {
		t.Helper()
		if err := h.Handle(context.Background(), slog.NewRecord(second.Add(time.Millisecond), level, msg, 0)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 25 {
		// Loggers made With attributes share the counts.
		handle(h.WithAttrs([]slog.Attr{slog.String("sender", "p"+strconv.Itoa(i))}), slog.LevelInfo, "stream connected")
		handle(h, slog.LevelWarn, "stream refused")
	}
	handle(h, slog.LevelInfo, "message")
	logged := out.String()
	if n := strings.Count(logged, `msg="stream connected"`); n != 10 {
		t.Errorf("%d stream connected lines within the second, want 10:\n%s", n, logged)
	}
	if n := strings.Count(logged, `msg="stream refused"`); n != 25 {
		t.Errorf("%d warnings, want all 25:\n%s", n, logged)
	}
	if !strings.Contains(logged, `msg=message`) {
		t.Errorf("another message was held back:\n%s", logged)
	}
	want := `msg="stream connected" lines_not_logged=15`
	for deadline := time.Now().Add(3 * time.Second); !strings.Contains(out.String(), want); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no line says %s:\n%s", want, out.String())
		}
	}

	// The next second starts afresh.
	slog.New(h).Info("stream connected", "sender", "late")
	if !strings.Contains(out.String(), "sender=late") {
		t.Errorf("a line in the next second was held back:\n%s", out.String())
	}
}

// At the end of the process what is held back is said at once, and nothing
// is held back after.
func TestLogFloodFlushedAtTheEnd(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	h := newLimitedHandler(slog.NewTextHandler(&out, nil), 2)
	log := slog.New(h)
	for range 5 {
		log.Info("stream disconnected")
	}
	h.flush()
	if !strings.Contains(out.String(), `msg="stream disconnected" lines_not_logged=3`) {
		t.Errorf("flush did not say what was held back:\n%s", out.String())
	}
	for range 5 {
		log.Info("after")
	}
	if n := strings.Count(out.String(), "msg=after"); n != 5 {
		t.Errorf("%d lines after the flush, want all 5:\n%s", n, out.String())
	}
}
