package main

import (
	"os"
	"strconv"
	"testing"
)

func TestParseProc(t *testing.T) {
	status := []byte("Name:\tchatzilla\nVmPeak:\t  900 kB\nVmRSS:\t  123456 kB\nThreads:\t7\n")
	if got, err := parseVmRSS(status); err != nil || got != 123456 {
		t.Errorf("parseVmRSS = %d, %v; want 123456", got, err)
	}
	if _, err := parseVmRSS([]byte("Name:\tx\n")); err == nil {
		t.Error("parseVmRSS without a VmRSS line: no error")
	}
	// A command name with spaces and a parenthesis must not shift the
	// fields: utime is 250 ticks and stime 150.
	stat := []byte("4242 (chat zilla) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 9 0 100 1000000 300")
	if got, err := parseCPUSeconds(stat); err != nil || got != 4.0 {
		t.Errorf("parseCPUSeconds = %v, %v; want 4", got, err)
	}
	if _, err := parseCPUSeconds([]byte("4242 (x) S 1 2")); err == nil {
		t.Error("parseCPUSeconds with too few fields: no error")
	}
}

// Reading this test process checks the parsers against the real files.
func TestReadProcSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	s, err := readProc(strconv.Itoa(os.Getpid()))
	if err != nil || s.RSSKiB <= 0 {
		t.Errorf("readProc(self) = %+v, %v; want a positive RSS", s, err)
	}
}
