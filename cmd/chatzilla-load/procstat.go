package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// clockTicks is Linux's USER_HZ, the unit of utime and stime in
// /proc/PID/stat. It is 100 on every mainstream architecture and Go has no
// sysconf to ask.
const clockTicks = 100

// procSample is a process's memory and CPU at one moment.
type procSample struct {
	RSSKiB     int64   `json:"rss_kib"`
	CPUSeconds float64 `json:"cpu_seconds"` // user + system, since the process started
}

// readProc samples a process through /proc (Linux only). pid "self" reads
// the load client itself.
func readProc(pid string) (procSample, error) {
	var s procSample
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return s, err
	}
	if s.RSSKiB, err = parseVmRSS(status); err != nil {
		return s, fmt.Errorf("/proc/%s/status: %w", pid, err)
	}
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return s, err
	}
	if s.CPUSeconds, err = parseCPUSeconds(stat); err != nil {
		return s, fmt.Errorf("/proc/%s/stat: %w", pid, err)
	}
	return s, nil
}

// parseVmRSS reads the "VmRSS:   1234 kB" line.
func parseVmRSS(status []byte) (int64, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			break
		}
		return strconv.ParseInt(string(f[0]), 10, 64)
	}
	return 0, errors.New("no VmRSS line in kB")
}

// parseCPUSeconds adds utime and stime, fields 14 and 15. The command name
// (field 2) is in parentheses and may itself contain spaces and
// parentheses, so fields are counted from the last ')'.
func parseCPUSeconds(stat []byte) (float64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("no command name")
	}
	f := bytes.Fields(stat[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0, errors.New("too few fields")
	}
	utime, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	stime, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return float64(utime+stime) / clockTicks, nil
}

// probe samples the server at the moments the report compares.
type probe struct {
	pid int // 0: no server to sample
	err error
}

// sample reads the server now. An error (the server exited, say) is kept
// for the report and the zero sample returned.
func (p *probe) sample() (procSample, error) {
	if p.pid == 0 {
		return procSample{}, nil
	}
	s, err := readProc(strconv.Itoa(p.pid))
	if err != nil && p.err == nil {
		p.err = err
	}
	return s, err
}

// report derives memory per stream from the growth while streams opened,
// and CPU per delivery from what the server spent between the idle sample
// and the end, which covers the posts and every delivery to this process.
func (p *probe) report(before, open, end procSample, streams int, deliveries int64) *serverReport {
	if p.pid == 0 {
		return nil
	}
	r := &serverReport{PID: p.pid, Before: before, Open: open, End: end}
	if streams > 0 {
		r.RSSKiBPerStream = float64(open.RSSKiB-before.RSSKiB) / float64(streams)
	}
	if deliveries > 0 {
		r.CPUMicrosPerDelivery = (end.CPUSeconds - open.CPUSeconds) * 1e6 / float64(deliveries)
	}
	return r
}
