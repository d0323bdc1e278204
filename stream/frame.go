package stream

import (
	"bytes"
	"context"
	"strconv"

	"github.com/chatzilla/chatzilla/presence"
	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/views"
)

// MessageFrame renders m, which follows prev in the log (nil if nothing
// does), and wraps it as one text/event-stream event:
//
//	id: 42
//	data: <li id="m-42" …>…<b>bob…</b>…: hello…</li>
//
// The id is what a reconnecting browser sends back as Last-Event-ID. The
// rendering is the same for every reader, so it is made once.
func MessageFrame(prev *store.Message, m store.Message) ([]byte, error) {
	var before *views.Message
	if prev != nil {
		v := View(*prev)
		before = &v
	}
	var html bytes.Buffer
	if err := views.MessageItem(View(m).InLog(before)).Render(context.Background(), &html); err != nil {
		return nil, err
	}
	return encodeEvent(m.ID, html.Bytes()), nil
}

// encodeEvent frames data as one event, with an id line unless id is 0 (an
// event that is not a stored message leaves the browser's Last-Event-ID as
// it was). Every line of data gets its own
// "data:" prefix (the stream format's only way to carry a line break), so no
// text can end the event early or inject a field of its own; a lone \r counts
// as a line break, as it does for the browser's parser.
func encodeEvent(id int64, data []byte) []byte {
	buf := make([]byte, 0, len(data)+32)
	if id > 0 {
		buf = append(buf, "id: "...)
		buf = strconv.AppendInt(buf, id, 10)
		buf = append(buf, '\n')
	}
	for {
		i := bytes.IndexAny(data, "\r\n")
		if i < 0 {
			break
		}
		buf = append(buf, "data: "...)
		buf = append(buf, data[:i]...)
		buf = append(buf, '\n')
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	buf = append(buf, "data: "...)
	buf = append(buf, data...)
	return append(buf, '\n', '\n')
}

// reloadEvent is the name of the event that tells a page its list is too
// far behind to catch up through the stream: chat.js then reloads the list.
const reloadEvent = "chatzilla-reload"

// reloadFrame is that event. Its data is a notice with a link, for a client
// that shows it as it is.
var reloadFrame = append([]byte("event: "+reloadEvent+"\n"),
	encodeEvent(0, []byte(`<li class="notice reload"><a href="/">You missed messages while away. Reload to see them.</a></li>`))...)

// maxNamedNotices is how many arrivals or departures in one update are
// named one by one; more become one "N people joined" line.
const maxNamedNotices = 5

// presenceFrames are the events telling streams who joined or left: change
// has notices for the list and the new "who's online" panel, swapped in out
// of band; online has the panel alone, for a page that reconnects. The
// panel is rendered once for both. Their size is bounded whatever the
// crowd, since they go to every stream.
func presenceFrames(c presence.Change, names map[string]string, unverified bool) (change, online []byte, err error) {
	var notices, panel bytes.Buffer
	ctx := context.Background()
	for _, group := range []struct {
		emails []string
		event  string
	}{{c.Joined, "joined"}, {c.Left, "left"}} {
		if len(group.emails) > maxNamedNotices {
			if err := views.NoticeItem(views.Notice{Count: len(group.emails), Event: group.event}).Render(ctx, &notices); err != nil {
				return nil, nil, err
			}
			continue
		}
		for _, e := range group.emails {
			if err := views.NoticeItem(views.Notice{Email: e, Event: group.event}).Render(ctx, &notices); err != nil {
				return nil, nil, err
			}
		}
	}
	if err := views.PeoplePanel(views.People{Online: c.Online, Names: names, Unverified: unverified, Private: !unverified}, true).Render(ctx, &panel); err != nil {
		return nil, nil, err
	}
	online = encodeEvent(0, panel.Bytes())
	if notices.Len() == 0 {
		return online, online, nil
	}
	notices.Write(panel.Bytes())
	return encodeEvent(0, notices.Bytes()), online, nil
}

// View is m as the views show it: the one mapping, for the page's history
// and for every stream, so both render a message alike.
func View(m store.Message) views.Message {
	return views.Message{ID: m.ID, Sender: m.Sender, Content: m.Content, SentAt: m.CreatedAt, Name: m.SenderName, Verified: m.Verified}
}
