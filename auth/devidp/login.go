package devidp

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/a-h/templ"
)

const (
	// browserCookie identifies the browser to the provider: it binds the login form to the
	// browser that loaded it (CSRF) and finds the browser's session at end_session.
	browserCookie       = "devidp_browser"
	browserCookieMaxAge = 30 * 24 * 60 * 60
	// contentSecurityPolicy is sent with every HTML page: no scripts at all, styles from the
	// provider's own CSS file, no framing.
	contentSecurityPolicy = "default-src 'self'; frame-ancestors 'none'"
	maxLoginFormBytes     = 16 << 10
)

//go:embed static/devidp.css
var stylesheet []byte

// serveCSS serves the provider's only stylesheet.
func serveCSS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(stylesheet)
}

// loginUI serves the HTML pages: home, login and signed out.
type loginUI struct {
	issuer       string
	secureCookie bool
	storage      *storage
	users        []pageUser
	passwordHint string
	log          *slog.Logger
	csrfKey      []byte
	crossOrigin  *http.CrossOriginProtection
}

func newLoginUI(issuer string, secureCookie bool, st *storage, users []User, passwordHint string, log *slog.Logger) *loginUI {
	pu := make([]pageUser, 0, len(users))
	for _, u := range users {
		pu = append(pu, pageUser{Username: u.Username, Name: u.Name, Email: u.Email})
	}
	return &loginUI{
		issuer:       issuer,
		secureCookie: secureCookie,
		storage:      st,
		users:        pu,
		passwordHint: passwordHint,
		log:          log,
		// Pending sign-ins are in memory, so a per-process key loses nothing on restart.
		csrfKey:     []byte(randomToken(32)),
		crossOrigin: http.NewCrossOriginProtection(),
	}
}

// browserID returns the browser cookie's value, setting a new cookie if there is none.
func (l *loginUI) browserID(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(browserCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	id := randomToken(32)
	http.SetCookie(w, &http.Cookie{
		Name:     browserCookie,
		Value:    id,
		Path:     "/",
		MaxAge:   browserCookieMaxAge,
		HttpOnly: true,
		Secure:   l.secureCookie,
		SameSite: http.SameSiteLaxMode,
	})
	return id
}

// csrfToken binds a login form to an auth request and a browser.
func (l *loginUI) csrfToken(authRequestID, browserID string) string {
	mac := hmac.New(sha256.New, l.csrfKey)
	mac.Write([]byte("login\x00" + authRequestID + "\x00" + browserID))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func (l *loginUI) validCSRF(token, authRequestID, browserID string) bool {
	want := l.csrfToken(authRequestID, browserID)
	return hmac.Equal([]byte(token), []byte(want))
}

// render writes an HTML page with the provider's page headers.
func (l *loginUI) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	var buf bytes.Buffer
	if err := c.Render(r.Context(), &buf); err != nil {
		l.log.Error("devidp: render page", "path", r.URL.Path, "error", err)
		http.Error(w, "devidp: internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

func (l *loginUI) home(w http.ResponseWriter, r *http.Request) {
	l.render(w, r, http.StatusOK, homePage(homePageData{
		Issuer:       l.issuer,
		DiscoveryURL: l.issuer + pathDiscovery,
		Users:        l.users,
		PasswordHint: l.passwordHint,
	}))
}

func (l *loginUI) loggedOut(w http.ResponseWriter, r *http.Request) {
	l.render(w, r, http.StatusOK, loggedOutPage())
}

// loginData builds the login page for a pending auth request.
func (l *loginUI) loginData(req loginRequest, browserID, username, errMsg string) loginPageData {
	users := make([]pageUser, 0, len(l.users))
	for _, u := range l.users {
		q := url.Values{loginQueryID: {req.ID}, "username": {u.Username}}
		u.Href = pathLogin + "?" + q.Encode()
		users = append(users, u)
	}
	return loginPageData{
		ClientID:      req.ClientID,
		AuthRequestID: req.ID,
		CSRFToken:     l.csrfToken(req.ID, browserID),
		Username:      username,
		Users:         users,
		PasswordHint:  l.passwordHint,
		Error:         errMsg,
	}
}

func (l *loginUI) unknownRequest(w http.ResponseWriter, r *http.Request) {
	l.render(w, r, http.StatusBadRequest, errorPage(
		"Sign-in request not found",
		"This sign-in request is unknown, has expired or is already complete. Go back to the application and sign in again."))
}

// showLogin renders the login page. ?username= (a click on a demo user) or the login_hint of the
// authorization request fills the username field.
func (l *loginUI) showLogin(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req, ok := l.storage.pendingLogin(q.Get(loginQueryID))
	if !ok {
		l.unknownRequest(w, r)
		return
	}
	browserID := l.browserID(w, r)
	username := q.Get("username")
	if username == "" {
		username = req.LoginHint
	}
	l.render(w, r, http.StatusOK, loginPage(l.loginData(req, browserID, username, "")))
}

// submitLogin checks the login form. A wrong username or password re-renders the page with an
// error and status 403 Forbidden: RFC 9110 section 15.5.4 describes 403 for credentials that were
// provided but are insufficient, whereas 401 would require a WWW-Authenticate challenge for an
// HTTP authentication scheme, which a form login does not have.
func (l *loginUI) submitLogin(w http.ResponseWriter, r *http.Request) {
	if err := l.crossOrigin.Check(r); err != nil {
		l.log.Warn("devidp: refused a cross-origin login POST", "error", err)
		l.render(w, r, http.StatusForbidden, errorPage("Request refused",
			"The sign-in form was submitted from another site. Go back to the application and sign in again."))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginFormBytes)
	if err := r.ParseForm(); err != nil {
		l.render(w, r, http.StatusBadRequest, errorPage("Bad request", "The sign-in form could not be read."))
		return
	}
	req, ok := l.storage.pendingLogin(r.PostForm.Get("id"))
	if !ok {
		l.unknownRequest(w, r)
		return
	}
	username := r.PostForm.Get("username")
	cookieOK := false
	var browserID string
	if c, err := r.Cookie(browserCookie); err == nil {
		browserID = c.Value
		cookieOK = l.validCSRF(r.PostForm.Get("csrf_token"), req.ID, browserID)
	}
	if !cookieOK {
		l.log.Warn("devidp: login form with a missing or wrong CSRF token", "client_id", req.ClientID)
		browserID = l.browserID(w, r)
		l.render(w, r, http.StatusForbidden, loginPage(l.loginData(req, browserID, username,
			"This form had expired or did not come from this browser (are cookies enabled?). Please try again.")))
		return
	}
	user, ok := l.storage.checkPassword(username, r.PostForm.Get("password"))
	if !ok {
		l.log.Info("devidp: sign-in failed: wrong username or password", "username", username, "client_id", req.ClientID)
		l.render(w, r, http.StatusForbidden, loginPage(l.loginData(req, browserID, username, "Wrong username or password.")))
		return
	}
	if err := l.storage.completeLogin(req.ID, user.Subject, hashToken(browserID)); err != nil {
		l.log.Warn("devidp: could not complete sign-in", "error", err)
		l.unknownRequest(w, r)
		return
	}
	l.log.Info("devidp: signed in", "username", user.Username, "sub", user.Subject, "client_id", req.ClientID)
	http.Redirect(w, r, l.issuer+pathCallback+"?id="+url.QueryEscape(req.ID), http.StatusSeeOther)
}

type browserHashKey struct{}

// withBrowser puts the hash of the browser cookie into the request context, so that end_session
// without id_token_hint can find the browser's session.
func withBrowser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(browserCookie); err == nil && c.Value != "" {
			r = r.WithContext(context.WithValue(r.Context(), browserHashKey{}, hashToken(c.Value)))
		}
		next.ServeHTTP(w, r)
	})
}

func browserHashFromContext(ctx context.Context) string {
	h, _ := ctx.Value(browserHashKey{}).(string)
	return h
}

// pageUser is a demo user as listed on the pages.
type pageUser struct {
	Username string
	Name     string
	Email    string
	// Href is the login page URL that fills in this user's username.
	Href string
}

// loginPageData is the data of the login page.
type loginPageData struct {
	ClientID      string
	AuthRequestID string
	CSRFToken     string
	Username      string
	Users         []pageUser
	// PasswordHint is the demo users' password when the built-in users are in use.
	PasswordHint string
	Error        string
}

// homePageData is the data of the home page.
type homePageData struct {
	Issuer       string
	DiscoveryURL string
	Users        []pageUser
	PasswordHint string
}
