//go:build !(linux || darwin)

package store

import "net"

// closedByServer cannot tell on this platform: a dead connection is then
// found by the statement sent on it, or by the ping after a second idle.
func closedByServer(net.Conn) bool { return false }
