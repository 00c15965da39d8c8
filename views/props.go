// Package views holds the templ components of the app: the page layout, the session-aware header fragment,
// the pages and the error page. Components are pure functions of the props defined here.
package views

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// URL paths that views link to and handlers serve. handlers/routes.go registers these same constants, so a
// renamed route cannot leave a dead link behind.
const (
	PathHome           = "/"
	PathProfile        = "/profile"
	PathLogin          = "/auth/login"
	PathCallback       = "/auth/callback"
	PathLogout         = "/auth/logout"
	PathSignedOut      = "/auth/signed-out"
	PathBackchannel    = "/auth/backchannel-logout"
	PathHeaderFragment = "/fragments/header"
	PathHomeFragment   = "/fragments/home"
	PathHealthz        = "/healthz"
	PathReadyz         = "/readyz"
)

// Viewer is who looks at the page, as far as the views need to know.
type Viewer struct {
	SignedIn bool
	// Name is the display name already chosen by the server: the name claim, else preferred_username,
	// email or sub.
	Name    string
	Email   string
	Picture string // an https URL, or empty
	// CSRFToken goes into the Sign out form.
	CSRFToken string
	// ReturnTo is the same-origin path of the page being shown; the Sign in link carries it so the person
	// comes back where they were.
	ReturnTo string
}

// Initials are up to two letters of the display name, for the avatar when there is no picture.
func (v Viewer) Initials() string {
	var out []rune
	for _, word := range strings.FieldsFunc(v.Name, func(r rune) bool { return unicode.IsSpace(r) || r == '@' || r == '.' }) {
		r, _ := utf8.DecodeRuneInString(word)
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			out = append(out, unicode.ToUpper(r))
		}
		if len(out) == 2 {
			break
		}
	}
	if len(out) == 0 {
		return "?"
	}
	return string(out)
}

// Page is what every full page needs besides its own content.
type Page struct {
	Title  string
	Viewer Viewer
}

// Claim is one row of the profile card.
type Claim struct {
	Name  string
	Value string
}

// ErrorInfo describes a failure for the error page and the error panel.
type ErrorInfo struct {
	Status    int
	Title     string
	Message   string
	RetryURL  string // the Try again link; empty for none
	RequestID string
}
