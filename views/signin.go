package views

// CheckInbox is the page after a sign-in link was asked for.
type CheckInbox struct {
	Email  string // the full address, for "Send another link"
	Masked string // what the page shows: a…@example.com
	Error  string // why another link was refused
}

// SignInConfirm is the page a sign-in link opens.
type SignInConfirm struct {
	Token string
	Email string
}

// Profile is the form for the name others see.
type Profile struct {
	Email    string
	Name     string
	Error    string
	Saved    bool
	Verified bool
	// MaxLength is the longest name, in characters.
	MaxLength int
}
