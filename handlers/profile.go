package handlers

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/views"
)

// maxNameLength is the longest display name, in characters.
const maxNameLength = 40

// PeopleStore keeps each person's display name.
type PeopleStore interface {
	Person(ctx context.Context, email string) (store.Person, error)
	SetDisplayName(ctx context.Context, email, name, nameKey string) error
	DisplayNames(ctx context.Context, emails []string) (map[string]string, error)
}

// profile shows the form for the name others see.
func (s *server) profile(c echo.Context) error {
	me, joined, err := s.member(c)
	if err != nil {
		return err
	}
	if !joined {
		return seeOther(c, "/")
	}
	p, err := s.People.Person(c.Request().Context(), me.Email)
	if err != nil {
		return storeUnavailable(err, "Chatzilla can't reach its database right now. Try again in a moment.")
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return render(c, http.StatusOK, views.ProfilePage(s.page, views.Profile{
		Email: me.Email, Name: p.Name, Verified: me.Verified, Saved: c.QueryParam("saved") != "", MaxLength: maxNameLength,
	}))
}

// saveProfile sets the display name, or clears it.
func (s *server) saveProfile(c echo.Context) error {
	typed, err := formValue(c, "name")
	if err != nil {
		return err
	}
	me, joined, err := s.member(c)
	if err != nil {
		return err
	}
	if !joined {
		return problem(http.StatusUnauthorized, "Your session ended: join again to set your name.")
	}
	name, key, reason := validateName(typed)
	if reason == "" {
		err = s.People.SetDisplayName(c.Request().Context(), me.Email, name, key)
		switch {
		case errors.Is(err, store.ErrNameTaken):
			reason = "Someone else in the chat goes by that name (or one that looks the same). Choose another."
		case err != nil:
			return storeUnavailable(err, "Your name was not saved: Chatzilla can't reach its database right now. Try again in a moment.")
		}
	}
	if reason != "" {
		return render(c, http.StatusUnprocessableEntity, views.ProfilePage(s.page, views.Profile{
			Email: me.Email, Name: strings.ToValidUTF8(typed, "\uFFFD"), Verified: me.Verified, Error: reason, MaxLength: maxNameLength,
		}))
	}
	s.Logger.Info("display name set", "sender", me.Email)
	return seeOther(c, "/profile?saved=1")
}

// validateName returns the name to show, the key that tells names apart as
// people see them, and a sentence saying what is wrong, if anything. The
// rules are the address's: no invisible or direction-changing characters,
// no look-alikes mixed from several alphabets. A name can't hold an @, so
// no name passes for an address. "" clears the name.
func validateName(raw string) (name, key, reason string) {
	if !utf8.ValidString(raw) {
		return "", "", "That name contains characters that are not text."
	}
	name = strings.Join(strings.Fields(raw), " ")
	switch {
	case name == "":
		return "", "", ""
	case strings.IndexFunc(name, func(r rune) bool { return r != ' ' && hidden(r) }) >= 0:
		return "", "", "That name contains invisible or direction-changing characters. Type it again by hand."
	case strings.ContainsRune(name, '@'):
		return "", "", "A name can't contain @: it would look like an email address."
	case strings.ContainsAny(name, `<>"`):
		return "", "", `A name can't contain <, > or ".`
	}
	name = norm.NFC.String(name)
	if norm.NFKC.String(name) != name || mixedScripts(name) {
		return "", "", "That name mixes look-alike characters (such as letters from different alphabets). Type it again by hand."
	}
	if n := utf8.RuneCountInString(name); n > maxNameLength {
		return "", "", "That name is too long: at most " + plural(maxNameLength, "character") + "."
	}
	if key = nameKey(name); key == "" {
		return "", "", "A name needs at least one letter or digit."
	}
	return name, key, ""
}

// nameKey is name as people tell names apart: case, spaces and
// punctuation do not count, so "Ann Lee", "ann.lee" and "ANNLEE" are one
// name and only one person may have it.
func nameKey(name string) string {
	folded := cases.Fold().String(name)
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return -1
	}, folded)
}
