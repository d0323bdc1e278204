//go:build unix

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

var errConnRefused error = syscall.ECONNREFUSED

func terminate(pid int) error { return syscall.Kill(pid, syscall.SIGTERM) }

// processGone says whether pid has exited: it no longer exists, or it is a
// zombie its parent has not reaped yet.
func processGone(pid int) bool {
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false // not Linux: only ESRCH tells
	}
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && bytes.HasPrefix(stat[i+1:], []byte(" Z"))
}

// detach puts the restart command in a process group of its own: Ctrl-C on
// the load client then stops the client, not the server it started.
func detach(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }
