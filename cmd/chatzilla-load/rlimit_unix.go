//go:build unix

package main

import (
	"fmt"
	"syscall"
)

// checkOpenFiles refuses a run that would need more descriptors than the
// process may open, before it joins thousands of users for nothing. Go has
// already raised the soft limit to the hard one at start.
func checkOpenFiles(need int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil // unknown: let the connects find out
	}
	// Headroom for standard streams, /proc reads and the resolver.
	need += 32
	if uint64(need) > lim.Cur {
		return fmt.Errorf("this run needs about %d open files but the limit is %d: "+
			"hold fewer -streams per process (start others with -senders 0 -run ID) or raise ulimit -n", need, lim.Cur)
	}
	return nil
}
