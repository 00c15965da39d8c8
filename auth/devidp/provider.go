package devidp

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// Paths served by the provider besides the library's endpoints.
const (
	pathLogin     = "/login"
	pathLoggedOut = "/logged-out"
	pathCSS       = "/static/devidp.css"
	pathDiscovery = oidc.DiscoveryEndpoint
	pathAuthorize = "/authorize"
	pathCallback  = "/authorize/callback"
	pathEndSess   = "/end_session"
	loginQueryID  = "authRequestID"
)

// Provider is a running development OpenID Provider. Serve Handler on a loopback listener whose
// URL is the issuer.
type Provider struct {
	issuer     string
	issuerHost string
	log        *slog.Logger
	op         *op.Provider
	storage    *storage
	login      *loginUI
	handler    http.Handler
}

// New creates a provider: it validates cfg, creates DataDir if needed, loads or creates the
// signing key, and loads the client registry and the persisted sessions and tokens. ctx bounds
// the start-up work only.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("devidp: start: %w", err)
	}
	issuer, err := ValidateLoopbackIssuer(cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("devidp: config: %w", err)
	}
	users := cfg.Users
	passwordHint := ""
	if users == nil {
		users = DefaultUsers()
		passwordHint = DefaultPassword
	}
	if err := validateUsers(users); err != nil {
		return nil, fmt.Errorf("devidp: config: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := ensureDataDir(cfg.DataDir); err != nil {
		return nil, fmt.Errorf("devidp: config: %w", err)
	}
	key, created, err := loadOrCreateSigningKey(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("devidp: %w", err)
	}
	clients, err := loadClients(cfg.DataDir, cfg.Clients)
	if err != nil {
		return nil, fmt.Errorf("devidp: clients: %w", err)
	}
	state, err := loadState(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("devidp: state: %w", err)
	}
	cryptoKey, err := tokenEncryptionKey(key)
	if err != nil {
		return nil, fmt.Errorf("devidp: %w", err)
	}

	st := newStorage(storageConfig{
		log:        log,
		dataDir:    cfg.DataDir,
		key:        key,
		issuer:     issuer,
		users:      users,
		clients:    clients,
		state:      state,
		accessTTL:  durationOr(cfg.AccessTokenLifetime, DefaultAccessTokenLifetime),
		refreshTTL: durationOr(cfg.RefreshTokenLifetime, DefaultRefreshTokenLifetime),
		idTTL:      durationOr(cfg.IDTokenLifetime, DefaultIDTokenLifetime),
	})
	if err := st.prune(); err != nil {
		return nil, err
	}
	bc := newBackChannel(issuer, key, cfg.HTTPClient, log)
	st.notify = bc.notify

	opConfig := &op.Config{
		CryptoKey:                         cryptoKey,
		CryptoKeyId:                       "devidp-" + key.id[:8],
		DefaultLogoutRedirectURI:          issuer + pathLoggedOut,
		CodeMethodS256:                    true,
		AuthMethodPost:                    true,
		GrantTypeRefreshToken:             true,
		SupportedUILocales:                []language.Tag{language.English},
		SupportedScopes:                   []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess},
		SupportedClaims:                   supportedClaims(),
		BackChannelLogoutSupported:        true,
		BackChannelLogoutSessionSupported: true,
	}
	provider, err := op.NewProvider(opConfig, st, op.StaticIssuer(issuer), op.WithAllowInsecure())
	if err != nil {
		return nil, fmt.Errorf("devidp: create provider: %w", err)
	}
	u, err := url.Parse(issuer)
	if err != nil {
		return nil, fmt.Errorf("devidp: parse issuer: %w", err)
	}
	p := &Provider{
		issuer:     issuer,
		issuerHost: canonicalHost(u.Scheme, u.Host),
		log:        log,
		op:         provider,
		storage:    st,
	}
	p.login = newLoginUI(issuer, u.Scheme == "https", st, users, passwordHint, log)
	p.handler = p.routes()

	usernames := make([]string, 0, len(users))
	for _, u := range users {
		usernames = append(usernames, u.Username)
	}
	if created {
		log.Info("devidp: created a new signing key", "file", filepath.Join(cfg.DataDir, signingKeyFile), "kid", key.id)
	}
	log.Warn("devidp: DEVELOPMENT OpenID provider: demo users and secrets, for local development and tests only — never use it in production",
		"issuer", issuer, "users", usernames, "clients", len(clients))
	return p, nil
}

// Issuer returns the issuer URL (without a trailing slash).
func (p *Provider) Issuer() string { return p.issuer }

// Handler returns the whole provider: discovery, authorize, login page, token, userinfo, JWKS,
// end_session, introspection and revocation. It only answers requests whose Host is the issuer's
// host (421 Misdirected Request otherwise), which also defeats DNS rebinding.
func (p *Provider) Handler() http.Handler { return p.handler }

func (p *Provider) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", p.login.home)
	mux.HandleFunc("GET "+pathLogin, p.login.showLogin)
	mux.HandleFunc("POST "+pathLogin, p.login.submitLogin)
	mux.HandleFunc("GET "+pathLoggedOut, p.login.loggedOut)
	mux.HandleFunc("GET "+pathCSS, serveCSS)
	// Browsers ask for it on every page; a 204 keeps their consoles free of 404 errors.
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET "+pathDiscovery, p.discovery)
	mux.Handle(pathAuthorize, withIssParameter(p.issuer, p.op))
	mux.Handle(pathCallback, withIssParameter(p.issuer, p.op))
	mux.Handle(pathEndSess, withBrowser(p.op))
	mux.Handle("/", p.op)
	return p.checkHost(securityHeaders(mux))
}

// checkHost refuses requests addressed to another host than the issuer's.
func (p *Provider) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		if canonicalHost(scheme, r.Host) != p.issuerHost {
			http.Error(w, fmt.Sprintf("devidp: this development provider is %s; open it with that URL (request was for host %q)", p.issuer, r.Host),
				http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// canonicalHost lower-cases host and drops the scheme's default port.
func canonicalHost(scheme, host string) string {
	host = strings.ToLower(host)
	if h, port, err := net.SplitHostPort(host); err == nil {
		if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
			if strings.Contains(h, ":") {
				return "[" + h + "]"
			}
			return h
		}
	}
	return host
}

// securityHeaders sets the headers every response gets.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// discovery serves the library's discovery document, amended to describe this provider exactly:
// RFC 9207 iss parameter support, the response types, modes, grant types and client
// authentication methods actually supported, and no device authorization endpoint.
func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	ctx := op.ContextWithIssuer(r.Context(), p.issuer)
	doc := op.CreateDiscoveryConfig(ctx, p.op, p.storage)
	raw, err := json.Marshal(doc)
	if err != nil {
		p.log.Error("devidp: encode discovery document", "error", err)
		http.Error(w, "devidp: internal error", http.StatusInternalServerError)
		return
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		p.log.Error("devidp: encode discovery document", "error", err)
		http.Error(w, "devidp: internal error", http.StatusInternalServerError)
		return
	}
	m["authorization_response_iss_parameter_supported"] = true
	m["response_types_supported"] = []string{string(oidc.ResponseTypeCode)}
	m["response_modes_supported"] = []string{string(oidc.ResponseModeQuery), string(oidc.ResponseModeFragment)}
	m["grant_types_supported"] = []string{string(oidc.GrantTypeCode), string(oidc.GrantTypeRefreshToken)}
	m["token_endpoint_auth_methods_supported"] = []string{string(oidc.AuthMethodBasic), string(oidc.AuthMethodPost), string(oidc.AuthMethodNone)}
	m["request_uri_parameter_supported"] = false
	delete(m, "device_authorization_endpoint")
	delete(m, "token_endpoint_auth_signing_alg_values_supported")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	// A public document: browser-based relying parties may fetch it cross-origin (the library's
	// own endpoints get their CORS headers from the library).
	w.Header().Set("Access-Control-Allow-Origin", "*")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		p.log.Debug("devidp: write discovery document", "error", err)
	}
}

func supportedClaims() []string {
	return []string{
		"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "at_hash", "c_hash", "azp", "sid",
		"name", "given_name", "family_name", "preferred_username", "picture", "locale",
		"email", "email_verified",
	}
}

func durationOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// withIssParameter adds the RFC 9207 "iss" parameter to authorization responses: redirects from
// the authorize endpoints that carry "code" or "error" to somewhere other than the login page.
// The library sends no iss parameter itself.
func withIssParameter(issuer string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&issWriter{ResponseWriter: w, issuer: issuer}, r)
	})
}

type issWriter struct {
	http.ResponseWriter
	issuer      string
	wroteHeader bool
}

func (w *issWriter) WriteHeader(status int) {
	if !w.wroteHeader {
		w.wroteHeader = true
		if status >= 300 && status < 400 {
			if loc := w.Header().Get("Location"); loc != "" {
				w.Header().Set("Location", addIssParameter(loc, w.issuer))
			}
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *issWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *issWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// addIssParameter adds iss to an authorization response URL, in the fragment when the response
// is in the fragment and in the query otherwise. Other URLs are returned unchanged.
func addIssParameter(loc, issuer string) string {
	u, err := url.Parse(loc)
	if err != nil || !u.IsAbs() {
		return loc
	}
	if strings.HasPrefix(loc, issuer+pathLogin) {
		return loc
	}
	if u.RawFragment != "" || u.Fragment != "" {
		frag, err := url.ParseQuery(u.EscapedFragment())
		if err == nil && (frag.Has("code") || frag.Has("error")) && !frag.Has("iss") {
			frag.Set("iss", issuer)
			u.RawFragment = frag.Encode()
			u.Fragment, _ = url.PathUnescape(u.RawFragment)
			return u.String()
		}
		return loc
	}
	q := u.Query()
	if (q.Has("code") || q.Has("error")) && !q.Has("iss") {
		q.Set("iss", issuer)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return loc
}
