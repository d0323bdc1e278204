package stream

import "github.com/chatzilla/chatzilla/hub"

// RoomHub is the room's hub here, nil if it has none.
func (p *Pipeline) RoomHub(id int64) *hub.Hub {
	if r := p.existingRoom(id); r != nil {
		return r.hub
	}
	return nil
}

// CloseStreams ends the room's streams here.
func (p *Pipeline) CloseStreams(id int64) {
	if r := p.existingRoom(id); r != nil {
		for _, st := range r.open() {
			st.End("test")
		}
	}
}
