//go:build !unix

package main

import (
	"errors"
	"os/exec"
)

// errConnRefused matches nothing here, so a check that the old server
// still listens never says no; processGone does not either.
var errConnRefused = errors.New("connection refused")

func terminate(int) error { return errors.New("restarting the server needs a Unix system") }

func processGone(int) bool { return false }

func detach(*exec.Cmd) {}
