//go:build !linux

package main

import (
	"errors"
	"net"
)

// poller is Linux-only (epoll); elsewhere each stream reads in its own
// goroutine.
type poller struct{}

type polled struct{ ended chan streamEnd }

func newPoller() (*poller, error) { return nil, errors.New("epoll is Linux-only") }

func (p *poller) add(*stream, net.Conn, *sseParser, []byte) (*polled, error) {
	return nil, errors.New("epoll is Linux-only")
}

func (p *poller) remove(*polled) {}

func (p *poller) close() {}
