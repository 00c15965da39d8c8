package authtest

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// pkceValue matches a PKCE code_verifier (RFC 7636 §4.1) and, with length
// 43, an S256 code_challenge.
var pkceValue = regexp.MustCompile(`^[A-Za-z0-9\-._~]{43,128}$`)

// scopeClaims lists the standard claims released by each scope value (OIDC
// Core §5.4).
var scopeClaims = map[string][]string{
	"profile": {"name", "family_name", "given_name", "middle_name", "nickname", "preferred_username",
		"profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"},
	"email":   {"email", "email_verified"},
	"address": {"address"},
	"phone":   {"phone_number", "phone_number_verified"},
}

func (p *Provider) serveHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case p.discoveryPath:
		p.handleDiscovery(w, r)
	case pathAuthorize:
		p.handleAuthorize(w, r)
	case pathToken:
		p.handleToken(w, r)
	case pathUserinfo:
		if p.opts.NoUserinfo {
			http.NotFound(w, r)
			return
		}
		p.handleUserinfo(w, r)
	case pathJWKS:
		p.handleJWKS(w, r)
	case pathEndSession:
		if p.opts.NoEndSession {
			http.NotFound(w, r)
			return
		}
		p.handleEndSession(w, r)
	case pathRevoke:
		p.handleRevoke(w, r)
	default:
		http.NotFound(w, r)
	}
}

// allowMethods answers 405 unless r uses one of methods.
func allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	if slices.Contains(methods, r.Method) {
		return true
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// hang blocks while the knob selected by on is set. It reports whether the
// request should proceed (the knob was switched off) rather than give up
// (client gone, test over, server closing).
func (p *Provider) hang(r *http.Request, on func(Behavior) bool) bool {
	for {
		p.mu.Lock()
		hanging, release := on(p.behavior), p.release
		p.mu.Unlock()
		if !hanging {
			return true
		}
		select {
		case <-release:
		case <-r.Context().Done():
			return false
		case <-p.stop:
			return false
		case <-p.testCtx.Done():
			return false
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	body := map[string]string{"error": code}
	if desc != "" {
		body["error_description"] = desc
	}
	writeJSON(w, status, body)
}

func errorPage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><title>authtest</title><h1>%d</h1><p>%s</p>\n", status, html.EscapeString(msg))
}

// forcedStatus returns the status a "fail with this status" knob asks for,
// or 0 when the knob is off.
func forcedStatus(status int) int {
	if status == 0 || status == http.StatusOK {
		return 0
	}
	return status
}

// duplicated returns the name of a parameter present more than once (RFC
// 6749 §3.1, §3.2), or "".
func duplicated(v url.Values) string {
	for k, vs := range v {
		if len(vs) > 1 {
			return k
		}
	}
	return ""
}

// ---- discovery and JWKS ----

func (p *Provider) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	p.mu.Lock()
	p.stats.Discovery++
	b := p.behavior
	p.mu.Unlock()
	if !p.hang(r, func(b Behavior) bool { return b.DiscoveryHang }) {
		oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "authtest: hang released")
		return
	}
	if s := forcedStatus(b.DiscoveryStatus); s != 0 {
		oauthError(w, s, "server_error", "authtest: forced discovery failure")
		return
	}
	issuer := p.issuer
	if b.DiscoveryIssuer != "" {
		issuer = b.DiscoveryIssuer
	}
	base := p.baseURL
	doc := map[string]any{
		"issuer":                                     issuer,
		"authorization_endpoint":                     base + pathAuthorize,
		"token_endpoint":                             base + pathToken,
		"jwks_uri":                                   base + pathJWKS,
		"revocation_endpoint":                        base + pathRevoke,
		"response_types_supported":                   []string{"code"},
		"response_modes_supported":                   []string{"query"},
		"grant_types_supported":                      []string{"authorization_code", "refresh_token"},
		"subject_types_supported":                    []string{"public"},
		"id_token_signing_alg_values_supported":      p.opts.SigningAlgs,
		"code_challenge_methods_supported":           []string{"S256"},
		"token_endpoint_auth_methods_supported":      p.opts.AuthMethods,
		"revocation_endpoint_auth_methods_supported": p.opts.AuthMethods,
		"scopes_supported":                           []string{"openid", "profile", "email", "address", "phone", "offline_access"},
		"claims_supported": []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "at_hash",
			"name", "given_name", "family_name", "preferred_username", "email", "email_verified"},
		"request_parameter_supported":          false,
		"request_uri_parameter_supported":      false,
		"backchannel_logout_supported":         true,
		"backchannel_logout_session_supported": true,
	}
	if !p.opts.NoUserinfo {
		doc["userinfo_endpoint"] = base + pathUserinfo
	}
	if !p.opts.NoEndSession {
		doc["end_session_endpoint"] = base + pathEndSession
	}
	if p.opts.IssParameterSupported {
		doc["authorization_response_iss_parameter_supported"] = true
	}
	writeJSON(w, http.StatusOK, doc)
}

func (p *Provider) handleJWKS(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	p.mu.Lock()
	p.stats.JWKS++
	b := p.behavior
	p.mu.Unlock()
	if !p.hang(r, func(b Behavior) bool { return b.JWKSHang }) {
		oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "authtest: hang released")
		return
	}
	if s := forcedStatus(b.JWKSStatus); s != 0 {
		oauthError(w, s, "server_error", "authtest: forced JWKS failure")
		return
	}
	p.mu.Lock()
	cur := p.cur
	p.mu.Unlock()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key: &cur.priv.PublicKey, KeyID: cur.kid, Algorithm: string(jose.RS256), Use: "sig",
	}}}
	writeJSON(w, http.StatusOK, set)
}

// ---- authorization endpoint ----

func (p *Provider) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodPost) {
		return
	}
	if err := r.ParseForm(); err != nil {
		errorPage(w, http.StatusBadRequest, "authtest: malformed authorization request: "+err.Error())
		return
	}
	params := r.Form
	p.mu.Lock()
	p.stats.Authorize++
	p.stats.LastAuthorize = cloneValues(params)
	b := p.behavior
	p.mu.Unlock()

	location, errMsg := p.authorize(params, b)
	if errMsg != "" {
		errorPage(w, http.StatusBadRequest, errMsg)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, location, http.StatusFound)
}

// authorize runs the authorization endpoint logic. It returns the redirect
// location, or an error message when the client or redirect URI cannot be
// trusted and the user agent must not be redirected (RFC 6749 §4.1.2.1).
func (p *Provider) authorize(params url.Values, b Behavior) (location, errMsg string) {
	for _, k := range []string{"client_id", "redirect_uri"} {
		if len(params[k]) > 1 {
			return "", "authtest: duplicated " + k
		}
	}
	clientID := params.Get("client_id")
	if clientID == "" {
		return "", "authtest: missing client_id"
	}
	if clientID != p.opts.ClientID {
		return "", fmt.Sprintf("authtest: unknown client_id %q", clientID)
	}
	redirectURI := params.Get("redirect_uri")
	if redirectURI == "" {
		return "", "authtest: missing redirect_uri"
	}
	p.mu.Lock()
	registered := p.redirectURIs[redirectURI]
	p.mu.Unlock()
	if !registered {
		return "", fmt.Sprintf("authtest: redirect_uri %q is not registered for client %q", redirectURI, clientID)
	}
	target, err := url.Parse(redirectURI)
	if err != nil {
		return "", "authtest: unparsable redirect_uri"
	}

	state := params.Get("state")
	respond := func(v url.Values) string {
		if state != "" {
			v.Set("state", state)
		}
		if iss, ok := p.issParam(b); ok {
			v.Set("iss", iss)
		}
		u := *target
		q := u.Query()
		for k, vs := range v {
			q[k] = vs
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	fail := func(code, desc string) (string, string) {
		return respond(url.Values{"error": {code}, "error_description": {desc}}), ""
	}

	if k := duplicated(params); k != "" {
		return fail("invalid_request", "parameter "+k+" is duplicated")
	}
	if params.Has("request") {
		return fail("request_not_supported", "request objects are not supported")
	}
	if params.Has("request_uri") {
		return fail("request_uri_not_supported", "request_uri is not supported")
	}
	switch rt := params.Get("response_type"); rt {
	case "code":
	case "":
		return fail("invalid_request", "missing response_type")
	default:
		return fail("unsupported_response_type", "only response_type=code is supported")
	}
	if rm := params.Get("response_mode"); rm != "" && rm != "query" {
		return fail("invalid_request", "only response_mode=query is supported")
	}
	scope := strings.Fields(params.Get("scope"))
	if !slices.Contains(scope, "openid") {
		return fail("invalid_scope", "scope must contain openid")
	}
	challenge := params.Get("code_challenge")
	if challenge == "" {
		return fail("invalid_request", "code_challenge is required (PKCE)")
	}
	if m := params.Get("code_challenge_method"); m != "S256" {
		return fail("invalid_request", "code_challenge_method must be S256")
	}
	if len(challenge) != 43 || !pkceValue.MatchString(challenge) {
		return fail("invalid_request", "malformed code_challenge")
	}
	if b.AuthorizeError != "" {
		return fail(b.AuthorizeError, "authtest: forced authorization error")
	}

	now := time.Now()
	code := randomString(32)
	p.mu.Lock()
	g := &grant{
		clientID: clientID,
		scope:    scope,
		user:     deepCopyMap(p.user),
		sid:      randomString(12),
		authTime: now,
	}
	p.codes[code] = &authCode{
		g:           g,
		redirectURI: redirectURI,
		challenge:   challenge,
		nonce:       params.Get("nonce"),
		expires:     now.Add(codeTTL),
	}
	p.mu.Unlock()
	return respond(url.Values{"code": {code}}), ""
}

// issParam returns the RFC 9207 iss value to send, if any.
func (p *Provider) issParam(b Behavior) (string, bool) {
	switch b.IssParam {
	case IssOmit:
		return "", false
	case IssWrong:
		return WrongIssuer, true
	case IssForce:
		return p.issuer, true
	default:
		return p.issuer, p.opts.IssParameterSupported
	}
}

// ---- token endpoint ----

// clientAuthMethod names the client authentication method a request uses,
// without checking credentials.
func clientAuthMethod(r *http.Request, form url.Values) string {
	_, _, basic := r.BasicAuth()
	n := 0
	method := AuthMethodNone
	if basic {
		n++
		method = AuthMethodBasic
	}
	if form.Has("client_secret") {
		n++
		method = AuthMethodPost
	}
	if form.Has("client_assertion") || form.Has("client_assertion_type") {
		n++
		method = "client_assertion"
	}
	if n > 1 {
		return "multiple"
	}
	return method
}

// authenticateClient checks the client's credentials by method. On failure
// it returns the OAuth error code and description.
func (p *Provider) authenticateClient(r *http.Request, form url.Values, method string) (code, desc string) {
	if method == "multiple" {
		return "invalid_request", "more than one client authentication method used (RFC 6749 §2.3)"
	}
	if !slices.Contains(p.opts.AuthMethods, method) {
		return "invalid_client", fmt.Sprintf("client authentication method %q not allowed", method)
	}
	secretOK := func(s string) bool {
		return subtle.ConstantTimeCompare([]byte(s), []byte(p.opts.ClientSecret)) == 1
	}
	formID := form.Get("client_id")
	switch method {
	case AuthMethodBasic:
		user, pass, _ := r.BasicAuth()
		id, err1 := url.QueryUnescape(user)
		secret, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return "invalid_client", "malformed Basic credentials"
		}
		if id != p.opts.ClientID || !secretOK(secret) {
			return "invalid_client", "client authentication failed"
		}
		if formID != "" && formID != id {
			return "invalid_client", "client_id does not match the authenticated client"
		}
	case AuthMethodPost:
		if formID != p.opts.ClientID || !secretOK(form.Get("client_secret")) {
			return "invalid_client", "client authentication failed"
		}
	case AuthMethodNone:
		if formID == "" {
			return "invalid_client", "missing client_id"
		}
		if formID != p.opts.ClientID {
			return "invalid_client", "unknown client"
		}
	default:
		return "invalid_client", fmt.Sprintf("client authentication method %q not implemented", method)
	}
	return "", ""
}

func clientError(w http.ResponseWriter, code, desc string) {
	status := http.StatusBadRequest
	if code == "invalid_client" {
		status = http.StatusUnauthorized
		w.Header().Set("WWW-Authenticate", `Basic realm="authtest"`)
	}
	oauthError(w, status, code, desc)
}

func (p *Provider) handleToken(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodPost) {
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}
	form := r.PostForm
	method := clientAuthMethod(r, form)
	p.mu.Lock()
	p.stats.Token++
	p.stats.LastTokenAuthMethod = method
	p.stats.LastTokenGrantType = form.Get("grant_type")
	b := p.behavior
	p.mu.Unlock()

	if !p.hang(r, func(b Behavior) bool { return b.TokenHang }) {
		oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "authtest: hang released")
		return
	}
	if forcedStatus(b.TokenStatus) != 0 || b.TokenError != "" {
		status := b.TokenStatus
		if status == 0 {
			status = http.StatusBadRequest
		}
		code := b.TokenError
		if code == "" {
			code = "invalid_grant"
			if status >= 500 {
				code = "server_error"
			}
		}
		oauthError(w, status, code, "authtest: forced token error")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		oauthError(w, http.StatusBadRequest, "invalid_request", "body must be application/x-www-form-urlencoded")
		return
	}
	if code, desc := p.authenticateClient(r, form, method); code != "" {
		clientError(w, code, desc)
		return
	}
	if k := duplicated(form); k != "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "parameter "+k+" is duplicated")
		return
	}
	switch gt := form.Get("grant_type"); gt {
	case "authorization_code":
		p.codeGrant(w, form, b)
	case "refresh_token":
		p.refreshGrant(w, form, b)
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "missing grant_type")
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type "+gt+" is not supported")
	}
}

func (p *Provider) codeGrant(w http.ResponseWriter, form url.Values, b Behavior) {
	code := form.Get("code")
	if code == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "missing code")
		return
	}
	verifier := form.Get("code_verifier")
	now := time.Now()

	p.mu.Lock()
	c := p.codes[code]
	var errDesc string
	switch {
	case c == nil:
		errDesc = "unknown authorization code"
	case c.used:
		// RFC 6749 §4.1.2: a code used twice revokes what it produced.
		p.stats.CodeReuse++
		c.g.revoked = true
		errDesc = "authorization code already used"
	case now.After(c.expires):
		errDesc = "authorization code expired"
	case c.g.clientID != p.opts.ClientID:
		errDesc = "authorization code was issued to another client"
	case form.Get("redirect_uri") != c.redirectURI:
		errDesc = "redirect_uri does not match the authorization request"
	case verifier == "":
		errDesc = "missing code_verifier (PKCE)"
	case !pkceValue.MatchString(verifier):
		errDesc = "malformed code_verifier"
	case subtle.ConstantTimeCompare([]byte(s256(verifier)), []byte(c.challenge)) != 1:
		errDesc = "code_verifier does not match code_challenge"
	}
	if errDesc != "" {
		p.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "invalid_grant", errDesc)
		return
	}
	c.used = true
	at, rt := p.issueTokensLocked(c.g, now, b)
	p.stats.LastSID = c.g.sid
	p.mu.Unlock()

	p.writeTokenResponse(w, c.g, at, rt, c.nonce, now, b)
}

func (p *Provider) refreshGrant(w http.ResponseWriter, form url.Values, b Behavior) {
	old := form.Get("refresh_token")
	if old == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "missing refresh_token")
		return
	}
	now := time.Now()
	p.mu.Lock()
	e := p.refresh[old]
	var errCode, errDesc string
	switch {
	case e == nil:
		errCode, errDesc = "invalid_grant", "unknown refresh token"
	case e.g.clientID != p.opts.ClientID:
		errCode, errDesc = "invalid_grant", "refresh token was issued to another client"
	case e.rotated:
		// RFC 9700 §4.14.2: reuse of a rotated refresh token revokes the grant.
		p.stats.RefreshReuse++
		e.g.revoked = true
		errCode, errDesc = "invalid_grant", "refresh token already used"
	case e.g.revoked:
		errCode, errDesc = "invalid_grant", "grant revoked"
	}
	if errCode == "" && form.Has("scope") {
		for _, s := range strings.Fields(form.Get("scope")) {
			if !slices.Contains(e.g.scope, s) {
				errCode, errDesc = "invalid_scope", "scope "+s+" was not granted"
				break
			}
		}
	}
	if errCode != "" {
		p.mu.Unlock()
		oauthError(w, http.StatusBadRequest, errCode, errDesc)
		return
	}
	e.rotated = true
	at, rt := p.issueTokensLocked(e.g, now, b)
	p.mu.Unlock()

	// OIDC Core §12.2: no nonce in ID tokens from a refresh.
	p.writeTokenResponse(w, e.g, at, rt, "", now, b)
}

func expiresIn(b Behavior) int {
	if b.ExpiresIn != 0 {
		return b.ExpiresIn
	}
	return defaultExpiresIn
}

// issueTokensLocked creates an access token and a refresh token for g.
// p.mu must be held.
func (p *Provider) issueTokensLocked(g *grant, now time.Time, b Behavior) (at, rt string) {
	at, rt = randomString(32), randomString(32)
	p.access[at] = &accessToken{g: g, expires: now.Add(time.Duration(expiresIn(b)) * time.Second)}
	p.refresh[rt] = &refreshToken{g: g}
	return at, rt
}

// releasedClaims returns the user's claims allowed by scope (OIDC Core
// §5.4): standard claims of scopes not granted are dropped, other claims
// are kept.
func releasedClaims(user map[string]any, scope []string) map[string]any {
	c := deepCopyMap(user)
	for s, names := range scopeClaims {
		if slices.Contains(scope, s) {
			continue
		}
		for _, n := range names {
			delete(c, n)
		}
	}
	return c
}

func (p *Provider) writeTokenResponse(w http.ResponseWriter, g *grant, at, rt, nonce string, now time.Time, b Behavior) {
	claims := releasedClaims(g.user, g.scope)
	claims["iss"] = p.issuer
	claims["sub"] = g.user["sub"]
	claims["aud"] = []string{g.clientID}
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(idTokenTTL).Unix()
	claims["auth_time"] = g.authTime.Unix()
	claims["sid"] = g.sid
	claims["at_hash"] = leftHalfHash(at)
	if nonce != "" {
		claims["nonce"] = nonce
	} else {
		delete(claims, "nonce")
	}
	if b.IDToken != nil {
		b.IDToken(claims)
	}
	idToken, err := p.sign(claims, b.Sign, "JWT")
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	resp := map[string]any{
		"access_token":  at,
		"token_type":    "Bearer",
		"expires_in":    expiresIn(b),
		"refresh_token": rt,
		"id_token":      idToken,
		"scope":         strings.Join(g.scope, " "),
	}
	if b.TokenResponse != nil {
		b.TokenResponse(resp)
	}
	writeJSON(w, http.StatusOK, resp)
}

// ---- userinfo ----

func bearerError(w http.ResponseWriter, code, desc string) {
	if code == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="authtest"`)
	} else {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="authtest", error=%q, error_description=%q`, code, desc))
	}
	oauthError(w, http.StatusUnauthorized, cmpOr(code, "invalid_request"), desc)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (p *Provider) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodPost) {
		return
	}
	p.mu.Lock()
	p.stats.Userinfo++
	b := p.behavior
	p.mu.Unlock()
	if !p.hang(r, func(b Behavior) bool { return b.UserinfoHang }) {
		oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "authtest: hang released")
		return
	}
	if s := forcedStatus(b.UserinfoStatus); s != 0 {
		if s == http.StatusUnauthorized {
			bearerError(w, "invalid_token", "authtest: forced userinfo failure")
			return
		}
		oauthError(w, s, "server_error", "authtest: forced userinfo failure")
		return
	}
	authz := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(authz, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		bearerError(w, "", "missing bearer token")
		return
	}
	p.mu.Lock()
	e := p.access[token]
	valid := e != nil && !e.revoked && !e.g.revoked && time.Now().Before(e.expires)
	var claims map[string]any
	if valid {
		claims = releasedClaims(e.g.user, e.g.scope)
		claims["sub"] = e.g.user["sub"]
	}
	p.mu.Unlock()
	if !valid {
		bearerError(w, "invalid_token", "unknown, expired or revoked access token")
		return
	}
	if b.UserinfoSub != "" {
		claims["sub"] = b.UserinfoSub
	}
	if b.UserinfoClaims != nil {
		b.UserinfoClaims(claims)
	}
	writeJSON(w, http.StatusOK, claims)
}

// ---- revocation (RFC 7009) ----

func (p *Provider) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodPost) {
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}
	form := r.PostForm
	p.mu.Lock()
	p.stats.Revoke++
	p.mu.Unlock()
	if code, desc := p.authenticateClient(r, form, clientAuthMethod(r, form)); code != "" {
		clientError(w, code, desc)
		return
	}
	token := form.Get("token")
	if token == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "missing token")
		return
	}
	p.mu.Lock()
	if e := p.refresh[token]; e != nil && e.g.clientID == p.opts.ClientID {
		e.g.revoked = true // RFC 7009 §2.1: and the access tokens of the grant
	} else if a := p.access[token]; a != nil && a.g.clientID == p.opts.ClientID {
		a.revoked = true
	}
	p.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// ---- RP-initiated logout ----

func (p *Provider) handleEndSession(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodPost) {
		return
	}
	if err := r.ParseForm(); err != nil {
		errorPage(w, http.StatusBadRequest, "authtest: malformed logout request")
		return
	}
	params := r.Form
	p.mu.Lock()
	p.stats.EndSession++
	p.stats.LastEndSession = cloneValues(params)
	p.mu.Unlock()

	if k := duplicated(params); k != "" {
		errorPage(w, http.StatusBadRequest, "authtest: parameter "+k+" is duplicated")
		return
	}
	clientID := params.Get("client_id")
	if clientID != "" && clientID != p.opts.ClientID {
		errorPage(w, http.StatusBadRequest, fmt.Sprintf("authtest: unknown client_id %q", clientID))
		return
	}
	sid := ""
	if hint := params.Get("id_token_hint"); hint != "" {
		claims, err := p.verifyOwnToken(hint)
		if err != nil {
			errorPage(w, http.StatusBadRequest, "authtest: invalid id_token_hint: "+err.Error())
			return
		}
		if claims["iss"] != p.issuer {
			errorPage(w, http.StatusBadRequest, "authtest: id_token_hint issued by another issuer")
			return
		}
		if !audContains(claims["aud"], p.opts.ClientID) {
			errorPage(w, http.StatusBadRequest, "authtest: id_token_hint not issued to the client")
			return
		}
		sid, _ = claims["sid"].(string)
	}
	if plr := params.Get("post_logout_redirect_uri"); plr != "" {
		if clientID == "" && params.Get("id_token_hint") == "" {
			errorPage(w, http.StatusBadRequest, "authtest: post_logout_redirect_uri requires id_token_hint or client_id")
			return
		}
		p.mu.Lock()
		ok := p.postLogoutURIs[plr]
		p.mu.Unlock()
		if !ok {
			errorPage(w, http.StatusBadRequest, fmt.Sprintf("authtest: post_logout_redirect_uri %q is not registered", plr))
			return
		}
		p.endSession(sid)
		u, err := url.Parse(plr)
		if err != nil {
			errorPage(w, http.StatusBadRequest, "authtest: unparsable post_logout_redirect_uri")
			return
		}
		if state := params.Get("state"); state != "" {
			q := u.Query()
			q.Set("state", state)
			u.RawQuery = q.Encode()
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, u.String(), http.StatusFound)
		return
	}
	p.endSession(sid)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprint(w, "<!doctype html><title>authtest</title><p>You have been signed out.</p>\n")
}

// endSession revokes every grant of the OP session sid (its refresh tokens
// and access tokens stop working), as a real OP ending its session does.
func (p *Provider) endSession(sid string) {
	if sid == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.codes {
		if c.g.sid == sid {
			c.g.revoked = true
		}
	}
}

func audContains(aud any, clientID string) bool {
	switch a := aud.(type) {
	case string:
		return a == clientID
	case []any:
		for _, v := range a {
			if v == clientID {
				return true
			}
		}
	}
	return false
}
