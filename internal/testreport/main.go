// Command testreport runs `go test -json` with the arguments it is given and
// prints what go test prints without -json (each package's closing ok/FAIL
// line, and the output of tests that fail), then every skipped test with its
// reason, so that a green run on a machine without PostgreSQL or Chromium
// cannot pass for a full one. It exits with go test's status. GO names the
// go command, if not "go".
//
//	go build -o bin/testreport ./internal/testreport && bin/testreport -race -count=1 ./...
package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

func main() {
	cmd := exec.Command(cmp.Or(os.Getenv("GO"), "go"), append([]string{"test", "-json"}, os.Args[1:]...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	r := newReport(os.Stdout)
	if err := r.read(out); err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
	}
	err = cmd.Wait()
	r.summary()
	if err != nil {
		if exit, ok := err.(*exec.ExitError); ok {
			os.Exit(exit.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
}

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Action     string
	Package    string
	ImportPath string // build-output
	Test       string
	Output     string
}

type skip struct{ pkg, test, reason string }

// report turns the event stream back into go test's usual output.
type report struct {
	w       io.Writer
	pending map[string][]string // a running test's output, by package and test
	skipped []skip
}

func newReport(w io.Writer) *report {
	return &report{w: w, pending: map[string][]string{}}
}

func (r *report) read(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			// Not an event (go test prints some errors plainly): pass it on.
			fmt.Fprintln(r.w, sc.Text())
			continue
		}
		r.handle(e)
	}
	return sc.Err()
}

func (r *report) handle(e event) {
	key := e.Package + " " + e.Test
	switch {
	case e.Action == "build-output":
		fmt.Fprint(r.w, e.Output)
	case e.Test == "" && e.Action == "output":
		// -json implies -v, whose package-level "PASS" go test alone
		// does not print; "ok", "FAIL" and anything else are kept.
		if e.Output != "PASS\n" {
			fmt.Fprint(r.w, e.Output)
		}
	case e.Test == "" && e.Action == "skip":
		// A package without tests: go test has said so on its own line.
	case e.Test == "" && e.Action == "fail":
		// A package that failed outside any finished test (a panic, a
		// timeout): show what its unfinished tests printed.
		for k, lines := range r.pending {
			if strings.HasPrefix(k, e.Package+" ") {
				fmt.Fprint(r.w, strings.Join(lines, ""))
				delete(r.pending, k)
			}
		}
	case e.Action == "output" && strings.HasPrefix(e.Output, "=== "):
		// -v's RUN, PAUSE and CONT lines, which go test alone does not print.
	case e.Action == "output":
		r.pending[key] = append(r.pending[key], e.Output)
	case e.Action == "fail":
		fmt.Fprint(r.w, strings.Join(r.pending[key], ""))
		delete(r.pending, key)
	case e.Action == "skip":
		r.skipped = append(r.skipped, skip{e.Package, e.Test, reason(r.pending[key])})
		delete(r.pending, key)
	case e.Action == "pass":
		delete(r.pending, key)
	}
}

// reason is what a skipped test said, without go test's own lines.
func reason(lines []string) string {
	var said []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "--- SKIP") {
			continue
		}
		said = append(said, l)
	}
	if len(said) == 0 {
		return "(no reason given)"
	}
	return strings.Join(said, " ")
}

func (r *report) summary() {
	if len(r.skipped) == 0 {
		fmt.Fprintln(r.w, "No test was skipped.")
		return
	}
	fmt.Fprintf(r.w, "\n%d skipped (not a full run):\n", len(r.skipped))
	for _, s := range r.skipped {
		fmt.Fprintf(r.w, "SKIP %s %s: %s\n", s.pkg, s.test, s.reason)
	}
}
