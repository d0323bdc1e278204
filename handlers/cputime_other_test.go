//go:build !linux

package handlers_test

import "time"

func cpuTime() (time.Duration, bool) { return 0, false }
