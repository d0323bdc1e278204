package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseSourceIPs(t *testing.T) {
	tests := []struct {
		in      string
		want    string // space-separated addresses
		wantErr string
	}{
		{in: "", want: ""},
		{in: "3", want: "127.0.0.1 127.0.0.2 127.0.0.3"},
		{in: "127.0.0.8-127.0.0.10", want: "127.0.0.8 127.0.0.9 127.0.0.10"},
		{in: "127.0.0.255-127.0.1.1", want: "127.0.0.255 127.0.1.0 127.0.1.1"},
		{in: "127.0.0.1, 127.0.0.5-127.0.0.6", want: "127.0.0.1 127.0.0.5 127.0.0.6"},
		{in: "0", wantErr: "count"},
		{in: "10.0.0.1", wantErr: "not a loopback"},
		{in: "127.255.255.255-128.0.0.0", wantErr: "not a loopback"},
		{in: "127.0.0.9-127.0.0.1", wantErr: "not a range"},
		{in: "127.0.0.1-127.1.0.0", wantErr: "not a range"},
		{in: "::1", wantErr: "not an IPv4"},
		{in: "localhost", wantErr: "not an IPv4"},
	}
	for _, tt := range tests {
		ips, err := parseSourceIPs(tt.in)
		var got []string
		for _, ip := range ips {
			got = append(got, ip.String())
		}
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseSourceIPs(%q) error %v, want one saying %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || strings.Join(got, " ") != tt.want {
			t.Errorf("parseSourceIPs(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		args    string
		wantErr string
		check   func(config) bool
	}{
		{args: "", check: func(c config) bool {
			return c.URL.String() == "http://127.0.0.1:5000" && c.Streams == 100 && c.Grace == 5*time.Second && isRunID(c.Run)
		}},
		{args: "-rate 20 -duration 30s", check: func(c config) bool { return c.Messages == 600 }},
		{args: "-source-ips 8 -url http://localhost:5000/", check: func(c config) bool { return len(c.SourceIPs) == 8 && c.URL.Path == "" }},
		{args: "-senders 0 -run abc", check: func(c config) bool { return c.Run == "abc" }},
		{args: "-source-ips 8 -url https://chatzilla.example.com", wantErr: "loopback -url"},
		{args: "-source-ips 2 -url http://[::1]:5000", wantErr: "IPv4"},
		{args: "-url ftp://127.0.0.1", wantErr: "http://"},
		{args: "-senders 0", wantErr: "needs -run"},
		{args: "-run a:b", wantErr: "letters or digits"},
		{args: "-duration 30s -rate 0", wantErr: "needs a -rate"},
		{args: "-messages 0", wantErr: "from 1 to"},
		{args: "-streams 0 -senders 0 -run x", wantErr: "nothing to do"},
		{args: "-concurrency 0", wantErr: "concurrency"},
		{args: "stray", wantErr: "unexpected argument"},
		{args: "-storm", check: func(c config) bool {
			return c.Storm && c.ReconnectMin == 100*time.Millisecond && c.ReconnectMax == 1100*time.Millisecond
		}},
		{args: "-storm -reconnect-delay 2s", check: func(c config) bool { return c.ReconnectMin == 2*time.Second && c.ReconnectMax == 2*time.Second }},
		{args: "-storm -reconnect-delay 0-500ms -pid 1 -restart-after 10s -restart-cmd true", check: func(c config) bool {
			return c.ReconnectMin == 0 && c.ReconnectMax == 500*time.Millisecond && c.RestartAfter == 10*time.Second && c.RestartCommand == "true"
		}},
		{args: "-reconnect-delay 1s-100ms", wantErr: "-reconnect-delay"},
		{args: "-reconnect-delay soon", wantErr: "-reconnect-delay"},
		{args: "-pid 1 -restart-after 10s", wantErr: "needs -storm"},
		{args: "-storm -restart-after 10s", wantErr: "-pid"},
		{args: "-storm -pid 1 -restart-after 10s -senders 0 -run x", wantErr: "-senders"},
		{args: "-storm -restart-cmd true", wantErr: "-restart-cmd needs -restart-after"},
		{args: "-rooms 1000 -room-size 10 -big-room 2000 -room-rate 1000 -big-rate 50 -duration 30s -senders 50", check: func(c config) bool {
			return c.roomsMode() && c.Streams == 12000 && c.Messages == 30*1050 && c.RoomPrefix == "load"
		}},
		{args: "-big-room 20 -duration 2s", check: func(c config) bool {
			small, big := c.roomPosts()
			return c.Streams == 20 && small == 0 && big == 100 && c.Messages == 100
		}},
		{args: "-rooms 5 -room-size 3 -duration 1s -room-rate 7 -room-prefix lt-2", check: func(c config) bool {
			small, big := c.roomPosts()
			return c.Streams == 15 && small == 7 && big == 0 && c.RoomPrefix == "lt-2"
		}},
		{args: "", check: func(c config) bool { return !c.roomsMode() && c.Streams == 100 && c.Messages == 100 }},
		{args: "-room-rate 10", wantErr: "-room-rate needs -rooms"},
		{args: "-big-rate 10 -duration 1s", wantErr: "-big-rate needs -rooms or -big-room"},
		{args: "-rooms -1", wantErr: "-rooms must be"},
		{args: "-rooms 2 -room-size 0 -duration 1s", wantErr: "-room-size"},
		{args: "-rooms 2 -streams 20 -duration 1s", wantErr: "do not apply"},
		{args: "-rooms 2 -rate 20 -duration 1s", wantErr: "do not apply"},
		{args: "-rooms 2 -messages 20", wantErr: "do not apply"},
		{args: "-rooms 2", wantErr: "needs a -duration"},
		{args: "-rooms 2 -duration 1s -room-rate 0", wantErr: "-room-rate"},
		{args: "-big-room 2 -duration 1s -big-rate 0", wantErr: "-big-rate"},
		{args: "-rooms 2 -duration 1s -big-rate 0", check: func(c config) bool { return c.Messages == 1000 }}, // no big room: its rate is unused
		{args: "-rooms 2 -duration 1s -senders 0 -run x", wantErr: "-senders 0"},
		{args: "-rooms 2 -duration 1s -storm", wantErr: "-storm"},
		{args: "-rooms 2 -duration 1s -room-prefix Load", wantErr: "-room-prefix"},
		{args: "-rooms 2 -duration 1ms -room-rate 10", wantErr: "from 1 to"},
		{args: "-rooms 2 -duration 1h -room-rate 1e300", wantErr: "at most"},
		{args: "-rooms 100 -room-size 100000 -duration 1s", wantErr: "at most 1000000 streams"},
	}
	for _, tt := range tests {
		c, err := parseConfig(append([]string{"chatzilla-load"}, strings.Fields(tt.args)...), io.Discard)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want one saying %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !tt.check(c) {
			t.Errorf("%q: %+v, %v", tt.args, c, err)
		}
	}
}
