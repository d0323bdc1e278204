// Command chatzilla-load is a load client for Chatzilla: it joins many users,
// holds one event stream per user, posts messages at a steady rate and
// reports whether every stream got every message, how fast, and what it
// cost the server. Run it with -h for the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
)

func main() {
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "chatzilla-load: %s\n", err)
		os.Exit(1)
	}
}

// errFailed is returned when the run was made and the report says it
// failed; the report has already said why.
var errFailed = errors.New("run failed")

// run parses the flags, makes the run and prints the report: a table, or
// JSON with -json. Progress goes to stderr. getenv is unused for now; the
// tool is configured by flags only, but keeps the shape every Chatzilla
// command has.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	_ = getenv
	cfg, err := parseConfig(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	// Ctrl-C ends the run early; the report still shows what was measured.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := runLoad(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	if cfg.JSON {
		err = rep.writeJSON(stdout)
	} else {
		err = rep.writeTable(stdout)
	}
	if err != nil {
		return err
	}
	if len(rep.Failures) > 0 {
		return fmt.Errorf("%w: %s", errFailed, strings.Join(rep.Failures, "; "))
	}
	return nil
}
