// Package apptest starts the real hxoidc server (the whole Echo stack, the real auth client and a real
// session store) on 127.0.0.1 for tests, and gives them a cookie-keeping client that does not follow
// redirects, so each hop of a sign-in can be asserted.
package apptest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/alexedwards/scs/v2"

	"github.com/hxoidc/hxoidc/auth"
	"github.com/hxoidc/hxoidc/handlers"
)

// Options configure the app under test.
type Options struct {
	Issuer, ClientID, ClientSecret string
	// Env adds or overrides configuration variables (OIDC_SCOPES, SESSION_IDLE_TIMEOUT, ...).
	Env map[string]string
	// Store is the session store; nil is a fresh in-memory store.
	Store scs.Store
	// Listener, when set, is where the app listens (its address makes BASE_URL); nil: a new 127.0.0.1 port.
	Listener net.Listener
	// CallbackTimeout bounds the callback (default: the server's 25 s).
	CallbackTimeout time.Duration
}

// App is a running server.
type App struct {
	URL      string
	Config   auth.Config
	Client   *auth.Client
	Sessions *auth.Sessions
	Store    scs.Store
	Server   *httptest.Server
	Logs     *SyncBuffer
	t        testing.TB
}

// Start configures the app through auth.LoadConfig (the same path as cmd/server), runs discovery (a
// provider that is down is retried in the background, as in production) and serves it until the test ends.
func Start(t testing.TB, o Options) *App {
	t.Helper()
	ln := o.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatalf("apptest: listen: %v", err)
		}
	}
	base := "http://" + ln.Addr().String()
	env := map[string]string{
		auth.EnvIssuer:       o.Issuer,
		auth.EnvClientID:     o.ClientID,
		auth.EnvClientSecret: o.ClientSecret,
		auth.EnvBaseURL:      base,
		auth.EnvSessionStore: "memory",
		auth.EnvHTTPTimeout:  "5s",
	}
	for k, v := range o.Env {
		env[k] = v
	}
	cfg, err := auth.LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("apptest: config: %v", err)
	}
	logs := &SyncBuffer{}
	// Debug unless the test sets LOG_LEVEL (benchmarks do, to measure the app rather than the logging).
	level := slog.LevelDebug
	if _, set := o.Env[auth.EnvLogLevel]; set {
		_ = level.UnmarshalText([]byte(cfg.LogLevel))
	}
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(logs, testWriter{t}), &slog.HandlerOptions{Level: level}))
	store := o.Store
	if store == nil {
		m := auth.NewMemoryStore(time.Minute)
		t.Cleanup(func() { _ = m.Close() })
		store = m
	}
	client := auth.NewClient(cfg, nil, logger)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := client.Discover(ctx); err != nil {
		go client.Run(ctx)
	}
	sessions := auth.NewSessions(cfg, store)
	e := handlers.NewServer(handlers.Deps{Config: cfg, Auth: client, Sessions: sessions, Store: store, Logger: logger, CallbackTimeout: o.CallbackTimeout})
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: e}}
	srv.Start()
	t.Cleanup(srv.Close)
	return &App{URL: base, Config: cfg, Client: client, Sessions: sessions, Store: store, Server: srv, Logs: logs, t: t}
}

// testWriter sends log lines to t.Log, so a failing test shows the server's side.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// SyncBuffer is a bytes.Buffer safe for the server's goroutines.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Browser is one browser: a cookie jar, no redirect following, no timeouts beyond the test's.
type Browser struct {
	HTTP *http.Client
	Jar  *cookiejar.Jar
	app  *App
	t    testing.TB
}

// Browser returns a new browser with an empty cookie jar.
func (a *App) Browser() *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{
		HTTP: &http.Client{Jar: jar, Timeout: 60 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		Jar: jar, app: a, t: a.t,
	}
}

// Response is a finished response with its body read and parsed.
type Response struct {
	*http.Response
	Body string
	Doc  *goquery.Document
}

// Location is the redirect target, resolved against the request URL.
func (r *Response) Location() string {
	loc, err := r.Response.Location()
	if err != nil {
		return ""
	}
	return loc.String()
}

// TestID returns the elements with data-testid=id.
func (r *Response) TestID(id string) *goquery.Selection {
	return r.Doc.Find(`[data-testid="` + id + `"]`)
}

// Do sends a request; target may be a path on the app or an absolute URL. headers are name, value pairs.
func (b *Browser) Do(method, target string, body url.Values, headers ...string) *Response {
	b.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = b.app.URL + target
	}
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(body.Encode())
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		b.t.Fatalf("apptest: request %s %s: %v", method, target, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	// Browsers send Origin on POST; the cross-origin check expects it.
	if method == http.MethodPost {
		req.Header.Set("Origin", b.app.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.HTTP.Do(req)
	if err != nil {
		b.t.Fatalf("apptest: %s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	doc, _ := goquery.NewDocumentFromReader(bytes.NewReader(raw))
	return &Response{Response: resp, Body: string(raw), Doc: doc}
}

// Get is Do with GET.
func (b *Browser) Get(target string, headers ...string) *Response {
	b.t.Helper()
	return b.Do(http.MethodGet, target, nil, headers...)
}

// Post is Do with a form POST.
func (b *Browser) Post(target string, form url.Values, headers ...string) *Response {
	b.t.Helper()
	return b.Do(http.MethodPost, target, form, headers...)
}

// SessionCookie is the app's session cookie in the jar, or nil.
func (b *Browser) SessionCookie() *http.Cookie {
	u, _ := url.Parse(b.app.URL)
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == b.app.Sessions.CookieName() {
			return c
		}
	}
	return nil
}

// StartSignIn asks the app to sign in and returns the provider URL it redirected to.
func (b *Browser) StartSignIn(returnTo string) string {
	b.t.Helper()
	r := b.Get("/auth/login?return_to=" + url.QueryEscape(returnTo))
	if r.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("apptest: /auth/login: status %d, want 303; body: %.300s", r.StatusCode, r.Body)
	}
	return r.Location()
}

// CSRFToken is the sign-out form's token on the home page.
func (b *Browser) CSRFToken() string {
	b.t.Helper()
	v, _ := b.Get("/").Doc.Find(`form[action="/auth/logout"] input[name="csrf_token"]`).Attr("value")
	return v
}
