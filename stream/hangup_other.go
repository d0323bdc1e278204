//go:build !linux

package stream

import "net"

// watchHangup is Linux's alone (epoll): elsewhere each stream reads its
// connection for the end.
func watchHangup(c net.Conn, gone func()) (stop func(), ok bool) { return nil, false }
