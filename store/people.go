package store

import (
	"errors"
	"fmt"
)

// ErrNameTaken is returned (wrapped) by SetDisplayName when another email
// holds a name with the same key.
var ErrNameTaken = errors.New("store: display name taken")

// MaxNameLength bounds a display name and its key, in bytes, so that a key's
// size is bounded in the unique index.
const MaxNameLength = 256

// Person is what the chat knows of an address beyond the address itself.
// Everyone has one: an address never seen is a person with no name, not
// verified.
type Person struct {
	Email    string
	Name     string // display name, "" for none
	Verified bool   // has signed in by an emailed link at least once
}

// checkName rejects a name and key that do not go together. The key is what
// uniqueness is judged on (the caller's normalised form: case-folded, a
// confusable skeleton), so a name without one would escape that judgement.
func checkName(name, nameKey string) error {
	const op = "store: set display name"
	switch {
	case name == "" && nameKey != "":
		return fmt.Errorf("%s: a key %q for no name", op, nameKey)
	case name != "" && nameKey == "":
		return fmt.Errorf("%s: name %q has no key", op, name)
	case len(name) > MaxNameLength || len(nameKey) > MaxNameLength:
		return fmt.Errorf("%s: name or key over %d bytes", op, MaxNameLength)
	}
	return nil
}
