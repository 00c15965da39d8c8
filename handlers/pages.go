package handlers

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/hxoidc/hxoidc/auth"
	"github.com/hxoidc/hxoidc/views"
)

// home is GET /. It is also the default post-logout redirect target, so it recognises the state of a
// sign-out coming back from the provider.
func (s *server) home(c echo.Context) error {
	flash := ""
	if done, ok := s.returnFromLogout(c); ok {
		if done.Popup {
			return s.render(c, http.StatusOK, views.PopupDone("signed-out", views.PathHome), nil)
		}
		flash = "You are signed out."
	}
	v := s.viewer(c)
	return s.render(c, http.StatusOK, views.HomePage(views.Page{Title: "Home", Viewer: v}, flash), views.HomeContent(v, flash))
}

// signedOut is GET /auth/signed-out: after a local-only sign-out (the provider has no end-session
// endpoint), or as a post-logout redirect URL of its own.
func (s *server) signedOut(c echo.Context) error {
	done, ok := s.returnFromLogout(c)
	if ok && done.Popup {
		return s.render(c, http.StatusOK, views.PopupDone("signed-out", views.PathHome), nil)
	}
	v := s.viewer(c)
	if v.SignedIn {
		// Someone who is signed in (again, or never signed out) is not told otherwise.
		return s.redirect(c, local(views.PathHome))
	}
	return s.render(c, http.StatusOK, views.SignedOutPage(views.Page{Title: "Signed out", Viewer: v}, ok && done.Local), nil)
}

// returnFromLogout recognises the state the sign-out sent to the provider.
func (s *server) returnFromLogout(c echo.Context) (auth.LogoutState, bool) {
	state := c.QueryParam("state")
	if state == "" {
		return auth.LogoutState{}, false
	}
	return s.Sessions.TakeLogout(c.Request().Context(), state)
}

// headerFragment is GET /fragments/header: the session-aware header alone.
func (s *server) headerFragment(c echo.Context) error {
	return s.renderFragment(c, http.StatusOK, views.Header(s.viewer(c)))
}

// homeFragment is GET /fragments/home: the home page's session-aware content alone.
func (s *server) homeFragment(c echo.Context) error {
	return s.renderFragment(c, http.StatusOK, views.HomeContent(s.viewer(c), ""))
}

// profile is GET /profile: the signed-in user's claims. When the access token has expired it is
// refreshed first (rotating the refresh token), and userinfo is read again.
func (s *server) profile(c echo.Context) error {
	ctx := c.Request().Context()
	u, _ := s.Sessions.User(ctx)
	// Only with the session lock: a request that gave up waiting for it (another tab is refreshing right
	// now) would redeem the same refresh token twice, which providers answer by revoking the grant.
	if t, ok := s.Sessions.Tokens(ctx); ok && auth.Locked(ctx) && t.RefreshToken != "" && !t.Expiry.IsZero() && s.now().After(t.Expiry.Add(-30*time.Second)) {
		next, err := s.Auth.Refresh(ctx, u, t)
		if err != nil {
			var ae *auth.Error
			if (errors.As(err, &ae) && ae.Status < 500) || errors.Is(err, auth.ErrInvalidIDToken) {
				// The provider no longer honours this session (revoked or expired refresh token), or it
				// answered with an ID token we refused: its refresh token is spent either way, and
				// presenting it again would look like theft to the provider.
				if _, err := s.Sessions.SignOut(ctx, nil); err != nil {
					return storeError(err)
				}
				s.Logger.Info("refresh refused; signed out", "request_id", requestID(c), "sub", u.Subject, "err", err)
				return errSignInRequired
			}
			s.Logger.Warn("token refresh failed; showing stored claims", "request_id", requestID(c), "err", err)
		} else {
			s.Sessions.SetTokens(ctx, next)
			if info, err := s.Auth.UserInfo(ctx, u, next); err == nil && info != nil {
				u.UserinfoClaims = info
			}
		}
	}
	v := s.viewer(c)
	claims := profileClaims(u)
	return s.render(c, http.StatusOK, views.ProfilePage(views.Page{Title: "Profile", Viewer: v}, claims), views.ProfileCard(v, claims))
}

// profileClaims flattens the ID token's and userinfo's claims into sorted rows; userinfo wins on a name
// both carry. Values are shown as JSON text unless they are plain strings.
func profileClaims(u auth.User) []views.Claim {
	merged := map[string]json.RawMessage{}
	for _, raw := range []json.RawMessage{u.IDTokenClaims, u.UserinfoClaims} {
		var m map[string]json.RawMessage
		if len(raw) > 0 && json.Unmarshal(raw, &m) == nil {
			for k, v := range m {
				merged[k] = v
			}
		}
	}
	out := make([]views.Claim, 0, len(merged))
	for k, v := range merged {
		var str string
		if json.Unmarshal(v, &str) != nil {
			str = string(v)
		}
		if k == "iat" || k == "exp" || k == "auth_time" || k == "updated_at" {
			var sec float64
			if json.Unmarshal(v, &sec) == nil {
				str = time.Unix(int64(sec), 0).UTC().Format(time.RFC3339)
			}
		}
		out = append(out, views.Claim{Name: k, Value: str})
	}
	slices.SortFunc(out, func(a, b views.Claim) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func randomState() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
