// Package views holds Chatzilla's HTML as templ components. Components take
// the small view-model structs below and never query anything themselves.
package views

import "strconv"

// Page is what every full page needs besides its content.
type Page struct {
	// StylesheetURL and ScriptURLs are versioned asset URLs. ScriptURLs is
	// empty when the htmx files were not built in: the page then works as
	// plain forms.
	StylesheetURL string
	ScriptURLs    []string
}

// JoinForm is the "type your email" form.
type JoinForm struct {
	Email string // what the person typed, kept when it was refused
	Error string
}

// Message is one chat message as shown in the list.
type Message struct {
	ID      int64
	Sender  string
	Content string
}

// DOMID is the list item's id, which also lets a reader link to a message.
func (m Message) DOMID() string { return "m-" + strconv.FormatInt(m.ID, 10) }

// Composer is the "write a message" form.
type Composer struct {
	Text  string // kept when the message was refused
	Error string
	// Autofocus puts the cursor in the composer: after sending, so the next
	// message can be typed at once.
	Autofocus bool
}

// Chat is the page of someone who has joined.
type Chat struct {
	Me       string
	Messages []Message // oldest first
	Composer Composer
}

// StreamURL is where the list connects for live messages: after the last
// message the page shows, so nothing posted between page load and stream
// connect is missed.
func (c Chat) StreamURL() string {
	var last int64
	if n := len(c.Messages); n > 0 {
		last = c.Messages[n-1].ID
	}
	return "/events?after=" + strconv.FormatInt(last, 10)
}

// Problem is an error shown to a person.
type Problem struct {
	Status  int
	Title   string
	Message string
}
