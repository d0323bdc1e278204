package main

import (
	"errors"
	"html"
	"testing"
)

func TestPayloadRoundTrip(t *testing.T) {
	sent := int64(1795605780511106496) // a real send time: 19 digits
	msg := encodeMessage("r1", 17, 4242, sent)
	end := encodeEnd("r1", 600, 3, sent+1)
	inRoom := encodeRoomMessage("r1", 1000, 77, sent+2)
	for _, s := range []string{msg, end, inRoom} {
		if html.EscapeString(s) != s {
			t.Fatalf("payload %q changes when HTML-escaped", s)
		}
	}
	// As the server frames them: inside markup, after the sender.
	frame := []byte(`<li id="m-9"><b>load-r1-17@example.com</b>: ` + msg + `</li>`)
	p, found, err := findPayload(frame, runPrefix("r1"))
	if !found || err != nil || p != (payload{sender: 17, seq: 4242, sent: sent}) {
		t.Errorf("message: %+v, found %v, err %v", p, found, err)
	}
	p, found, err = findPayload([]byte(end), runPrefix("r1"))
	if !found || err != nil || p != (payload{end: true, posted: 600, failed: 3, sent: sent + 1}) {
		t.Errorf("end marker: %+v, found %v, err %v", p, found, err)
	}
	p, found, err = findPayload([]byte(`<li id="m-10">`+inRoom+`</li>`), runPrefix("r1"))
	if !found || err != nil || p != (payload{inRoom: true, room: 1000, seq: 77, sent: sent + 2}) {
		t.Errorf("room message: %+v, found %v, err %v", p, found, err)
	}
}

func TestFindPayload(t *testing.T) {
	tests := []struct {
		data      string
		wantFound bool
		wantErr   bool
	}{
		{"<li><b>bob@example.com</b>: hello</li>", false, false},
		{"lt:other:1:2:3", false, false}, // another run
		{"lt:r1:1:2:3</li>", true, false},
		{"lt:r1:1:2:3", true, false},
		{"lt:r1:1:2</li>", true, true},                      // a field missing
		{"lt:r1:1:x:3", true, true},                         // not a number
		{"lt:r1:1:2:99999999999999999999</li>", true, true}, // overflows int64
		{"lt:r1:end:5:0</li>", true, true},
		{"lt:r1:-1:2:3", true, true},
		{"lt:r1:room:4:2:3</li>", true, false},
		{"lt:r1:room:4:2</li>", true, true},
		{"lt:r1:room:x:2:3", true, true},
	}
	for _, tt := range tests {
		_, found, err := findPayload([]byte(tt.data), runPrefix("r1"))
		if found != tt.wantFound || (err != nil) != tt.wantErr {
			t.Errorf("findPayload(%q): found %v, err %v; want found %v, error %v", tt.data, found, err, tt.wantFound, tt.wantErr)
		}
		if err != nil && !errors.Is(err, errMalformed) {
			t.Errorf("findPayload(%q): error %v, want errMalformed", tt.data, err)
		}
	}
}
