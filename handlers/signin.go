package handlers

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chatzilla/chatzilla/mail"
	"github.com/chatzilla/chatzilla/store"
	"github.com/chatzilla/chatzilla/views"
)

const (
	// linkLifetime is how long a sign-in link works: long enough to switch
	// to the mail app and back, short enough that an old mail is harmless.
	linkLifetime = 15 * time.Minute
	// linksPerHour bounds the links one address is sent in an hour, counted
	// in the store so that it holds across instances: enough for a person
	// who lost a few mails, too few to flood someone's inbox.
	linksPerHour = 5
	// resendAfter is how long after a link another may be asked for.
	resendAfter = time.Minute
	// pendingKey keeps, in the cookie, the address a link was sent to, for
	// the "check your inbox" page and its "Send another link".
	pendingKey = "pending"
)

// SignInStore keeps sign-in links and verified sessions.
type SignInStore interface {
	CreateSignInToken(ctx context.Context, t store.SignInToken) error
	SignInToken(ctx context.Context, hash string) (store.SignInToken, error)
	UseSignInToken(ctx context.Context, hash string, now time.Time) (store.SignInToken, error)
	SignInTokensSince(ctx context.Context, email string, since time.Time) (int, error)
	StartVerifiedSession(ctx context.Context, id, email string) error
	MarkVerified(ctx context.Context, email string) error
}

// Mailer sends mail off the request path (see mail.Outbox).
type Mailer interface {
	Enqueue(m mail.Message) bool
}

// mailLink asks for a sign-in link for email: it stores the hash of a new
// token and queues the mail, then shows where it went. Every address gets
// the same answer, so the page tells no one whether an address is known.
func (s *server) mailLink(c echo.Context, email string) error {
	ctx := c.Request().Context()
	now := time.Now()
	recent, err := s.SignIn.SignInTokensSince(ctx, email, now.Add(-time.Hour))
	if err != nil {
		return storeUnavailable(err, "Chatzilla can't send sign-in links right now. Try again in a moment.")
	}
	refuse := func(wait time.Duration, reason string) error {
		c.Response().Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
		return render(c, http.StatusTooManyRequests, views.CheckInboxPage(s.page, views.CheckInbox{Email: email, Masked: mail.Mask(email), Error: reason}))
	}
	if recent >= linksPerHour {
		return refuse(time.Hour, "We've sent this address "+plural(linksPerHour, "sign-in link")+" in the last hour. Use the newest one, or ask again later.")
	}
	if recent > 0 {
		if n, err := s.SignIn.SignInTokensSince(ctx, email, now.Add(-resendAfter)); err != nil {
			return storeUnavailable(err, "Chatzilla can't send sign-in links right now. Try again in a moment.")
		} else if n > 0 {
			return refuse(resendAfter, "A link was sent less than a minute ago. Give it a moment to arrive, then ask again if it hasn't.")
		}
	}
	if wait := s.tooFast(c, s.linkFlood, clientKey(c)); wait > 0 {
		return render(c, http.StatusTooManyRequests, views.CheckInboxPage(s.page, views.CheckInbox{Email: email, Masked: mail.Mask(email),
			Error: "Too many sign-in links were asked for from your network. Try again in " + plural(wait, "second") + "."}))
	}

	token := rand.Text()
	if err := s.SignIn.CreateSignInToken(ctx, store.SignInToken{Hash: store.SignInTokenHash(token), Email: email, CreatedAt: now, ExpiresAt: now.Add(linkLifetime)}); err != nil {
		return storeUnavailable(err, "Chatzilla can't send sign-in links right now. Try again in a moment.")
	}
	// The link is built from PUBLIC_URL alone: from the request's Host, a
	// forged header would mail a victim a working token on the forger's site.
	link := s.PublicURL + "/sign-in?token=" + token
	if !s.Mailer.Enqueue(mail.Message{
		To:      email,
		Subject: "Your Chatzilla sign-in link",
		Body: "Sign in to Chatzilla as " + email + ":\n\n" + link + "\n\n" +
			"The link works once, for 15 minutes. If you did not ask for it, ignore this mail: nobody can sign in without it.\n",
	}) {
		return problem(http.StatusServiceUnavailable, "Chatzilla has too much mail to send right now. Try again in a minute.")
	}
	s.Logger.Info("sign-in link requested", "to", mail.Mask(email), "ip", c.RealIP())
	if err := s.saveSession(c, map[any]any{pendingKey: email}, int(linkLifetime.Seconds())); err != nil {
		return err
	}
	return seeOther(c, "/check-inbox")
}

// checkInbox is the page after a link was sent.
func (s *server) checkInbox(c echo.Context) error {
	email := s.pending(c)
	if email == "" {
		return seeOther(c, "/")
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return render(c, http.StatusOK, views.CheckInboxPage(s.page, views.CheckInbox{Email: email, Masked: mail.Mask(email)}))
}

// pending is the address a link was last sent to from this browser.
func (s *server) pending(c echo.Context) string {
	cookie, err := s.Sessions.Get(c.Request(), sessionName)
	if err != nil {
		return ""
	}
	email, _ := cookie.Values[pendingKey].(string)
	return email
}

// signInPage is what a link opens: a button, since opening the link must
// not sign anyone in (mail scanners open links to check them).
func (s *server) signInPage(c echo.Context) error {
	token := c.QueryParam("token")
	t, err := s.linkToken(c.Request().Context(), token)
	if err != nil {
		return s.linkProblem(c, err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return render(c, http.StatusOK, views.SignInPage(s.page, views.SignInConfirm{Token: token, Email: t.Email}))
}

// signIn uses a link's token, once, and starts a verified session.
func (s *server) signIn(c echo.Context) error {
	token, err := formValue(c, "token")
	if err != nil {
		return err
	}
	if !plausibleToken(token) {
		return s.linkProblem(c, store.ErrNoToken)
	}
	// One statement uses the token, or says why it cannot be used.
	t, err := s.SignIn.UseSignInToken(c.Request().Context(), store.SignInTokenHash(token), time.Now())
	if err != nil {
		return s.linkProblem(c, err)
	}
	id := rand.Text()
	if err := s.SignIn.StartVerifiedSession(c.Request().Context(), id, t.Email); err != nil {
		return storeUnavailable(err, "You could not sign in: Chatzilla can't reach its database right now. Use the same link again in a moment.")
	}
	if err := s.SignIn.MarkVerified(c.Request().Context(), t.Email); err != nil {
		s.Logger.Warn("marking an address verified", "err", err)
	}
	s.Logger.Info("signed in", "sender", t.Email, "ip", c.RealIP())
	if err := s.saveSession(c, map[any]any{idKey: id}, sessionMaxAge); err != nil {
		return err
	}
	return seeOther(c, "/")
}

// linkToken looks a token up and says whether it can still be used.
func (s *server) linkToken(ctx context.Context, token string) (store.SignInToken, error) {
	if !plausibleToken(token) {
		return store.SignInToken{}, store.ErrNoToken
	}
	hash := store.SignInTokenHash(token)
	t, err := s.SignIn.SignInToken(ctx, hash)
	switch {
	case err != nil:
		return t, err
	// The lookup was by hash; comparing again in constant time costs
	// nothing and keeps the check safe whatever the index does.
	case subtle.ConstantTimeCompare([]byte(t.Hash), []byte(hash)) != 1:
		return t, store.ErrNoToken
	case !t.UsedAt.IsZero():
		return t, store.ErrTokenUsed
	case !time.Now().Before(t.ExpiresAt):
		return t, store.ErrTokenExpired
	}
	return t, nil
}

// linkProblem is the page for a link that cannot be used, with the way to
// a new one.
func (s *server) linkProblem(c echo.Context, err error) error {
	var p views.Problem
	switch {
	case errors.Is(err, store.ErrNoToken):
		p = views.Problem{Status: http.StatusNotFound, Title: "This link doesn't work",
			Message: "This sign-in link is not one of ours, or it was copied incompletely. Ask for a new one below."}
	case errors.Is(err, store.ErrTokenUsed):
		p = views.Problem{Status: http.StatusGone, Title: "This link was used already",
			Message: "Each sign-in link works once. Ask for a new one below."}
	case errors.Is(err, store.ErrTokenExpired):
		p = views.Problem{Status: http.StatusGone, Title: "This link has expired",
			Message: "Sign-in links work for 15 minutes. Ask for a new one below."}
	default:
		return storeUnavailable(err, "Chatzilla can't check sign-in links right now. Use the same link again in a moment.")
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return render(c, p.Status, views.LinkProblemPage(s.page, p, views.JoinForm{EmailSignIn: true}))
}

// plausibleToken is a token worth looking up: one of ours is 26 characters.
func plausibleToken(token string) bool { return token != "" && len(token) <= 64 }
