package main

import "syscall"

// reservedFiles are descriptors kept for everything but streams: the
// listener, database connections, page requests, log files.
const reservedFiles = 256

// raiseOpenFileLimit lifts the soft limit on open files to the hard limit,
// since every open stream holds one, and returns the limit now in force.
func raiseOpenFileLimit() (int, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, err
		}
	}
	return int(min(lim.Cur, 1<<30)), nil
}
