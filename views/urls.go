package views

import (
	"net/url"

	"github.com/hxoidc/hxoidc/auth"
)

// SignInURL is the href of every Sign in link: PathLogin?return_to=<url-escaped same-origin path>.
// auth.js appends "&popup=1" when it opens the link in a popup.
func SignInURL(returnTo string) string {
	return PathLogin + "?return_to=" + url.QueryEscape(auth.SafeReturnTo(returnTo))
}

// popupText is what PopupDone says for an event.
func popupText(event string) (title, body string) {
	switch event {
	case "signed-in":
		return "Signed in", "You can close this window."
	case "signed-out":
		return "Signed out", "You can close this window."
	default:
		return "Done", "You can close this window."
	}
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
