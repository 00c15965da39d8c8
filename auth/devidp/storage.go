package devidp

import (
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

const (
	// authRequestLifetime bounds the time between the authorization request and the code exchange.
	authRequestLifetime = 15 * time.Minute
	// codeLifetime bounds the time between issuing an authorization code and redeeming it.
	codeLifetime = 2 * time.Minute
)

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanTerminateSessionFromRequest = (*storage)(nil)
)

// logoutNotice is one back-channel logout request to send.
type logoutNotice struct {
	ClientID  string
	URI       string
	Subject   string
	SessionID string
}

// storage implements op.Storage: clients and users from the configuration, auth requests and
// codes in memory, sessions and tokens in memory and mirrored to state.json. All fields after mu
// are guarded by it. Adapted from the zitadel/oidc example storage (Apache-2.0).
type storage struct {
	log         *slog.Logger
	now         func() time.Time
	statePath   string
	key         *signingKey
	loginURL    string
	logoutURL   string
	accessTTL   time.Duration
	refreshTTL  time.Duration
	idTTL       time.Duration
	users       []User
	usersBySub  map[string]*User
	usersByName map[string]*User
	clients     map[string]*storedClient
	// notify delivers back-channel logout notices; it is called without mu held.
	notify func(context.Context, []logoutNotice)

	mu            sync.Mutex
	authRequests  map[string]*authRequest
	codes         map[string]string   // code -> auth request ID
	usedCodes     map[string]usedCode // code -> redeemed auth request
	sessions      map[string]*session // by sid
	accessTokens  map[string]*accessToken
	refreshTokens map[string]*refreshToken // by hash of the token
	rotated       map[string]rotatedToken  // by hash of the token
}

type usedCode struct {
	authRequestID string
	expiresAt     time.Time
}

type storageConfig struct {
	log        *slog.Logger
	dataDir    string
	key        *signingKey
	issuer     string
	users      []User
	clients    []*storedClient
	state      *persistedState
	accessTTL  time.Duration
	refreshTTL time.Duration
	idTTL      time.Duration
}

func newStorage(cfg storageConfig) *storage {
	s := &storage{
		log:           cfg.log,
		now:           time.Now,
		statePath:     filepath.Join(cfg.dataDir, stateFile),
		key:           cfg.key,
		loginURL:      cfg.issuer + pathLogin,
		logoutURL:     cfg.issuer + pathLoggedOut,
		accessTTL:     cfg.accessTTL,
		refreshTTL:    cfg.refreshTTL,
		idTTL:         cfg.idTTL,
		users:         slices.Clone(cfg.users),
		usersBySub:    make(map[string]*User, len(cfg.users)),
		usersByName:   make(map[string]*User, len(cfg.users)),
		clients:       make(map[string]*storedClient, len(cfg.clients)),
		notify:        func(context.Context, []logoutNotice) {},
		authRequests:  make(map[string]*authRequest),
		codes:         make(map[string]string),
		usedCodes:     make(map[string]usedCode),
		sessions:      make(map[string]*session),
		accessTokens:  make(map[string]*accessToken),
		refreshTokens: make(map[string]*refreshToken),
		rotated:       make(map[string]rotatedToken),
	}
	for i := range s.users {
		u := &s.users[i]
		s.usersBySub[u.Subject] = u
		s.usersByName[u.Username] = u
	}
	for _, c := range cfg.clients {
		s.clients[c.ID] = c
	}
	if st := cfg.state; st != nil {
		for _, v := range st.Sessions {
			s.sessions[v.ID] = v
		}
		for _, v := range st.AccessTokens {
			s.accessTokens[v.ID] = v
		}
		for _, v := range st.RefreshTokens {
			s.refreshTokens[v.Hash] = v
		}
		for _, v := range st.Rotated {
			s.rotated[v.Hash] = v
		}
	}
	return s
}

// persistLocked writes sessions and tokens to state.json. mu must be held.
func (s *storage) persistLocked() error {
	st := persistedState{Version: stateVersion}
	for _, v := range s.sessions {
		st.Sessions = append(st.Sessions, v)
	}
	for _, v := range s.accessTokens {
		st.AccessTokens = append(st.AccessTokens, v)
	}
	for _, v := range s.refreshTokens {
		st.RefreshTokens = append(st.RefreshTokens, v)
	}
	for _, v := range s.rotated {
		st.Rotated = append(st.Rotated, v)
	}
	// Stable order keeps the file diffable.
	slices.SortFunc(st.Sessions, func(a, b *session) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(st.AccessTokens, func(a, b *accessToken) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(st.RefreshTokens, func(a, b *refreshToken) int { return cmp.Compare(a.Hash, b.Hash) })
	slices.SortFunc(st.Rotated, func(a, b rotatedToken) int { return cmp.Compare(a.Hash, b.Hash) })
	if err := writeJSONFile(s.statePath, st); err != nil {
		s.log.Error("devidp: could not save state", "error", err)
		return fmt.Errorf("devidp: save state: %w", err)
	}
	return nil
}

// pruneLocked drops expired entries and reports whether persisted state changed. mu must be held.
func (s *storage) pruneLocked(now time.Time) bool {
	for id, ar := range s.authRequests {
		if now.Sub(ar.CreatedAt) > authRequestLifetime {
			delete(s.authRequests, id)
			if ar.code != "" {
				delete(s.codes, ar.code)
			}
		}
	}
	for code, uc := range s.usedCodes {
		if now.After(uc.expiresAt) {
			delete(s.usedCodes, code)
		}
	}
	changed := false
	for id, t := range s.accessTokens {
		if now.After(t.ExpiresAt) {
			delete(s.accessTokens, id)
			changed = true
		}
	}
	for h, t := range s.refreshTokens {
		if now.After(t.ExpiresAt) {
			delete(s.refreshTokens, h)
			changed = true
		}
	}
	for h, t := range s.rotated {
		if now.After(t.ExpiresAt) {
			delete(s.rotated, h)
			changed = true
		}
	}
	for id, sess := range s.sessions {
		if now.After(sess.ExpiresAt) {
			delete(s.sessions, id)
			changed = true
		}
	}
	return changed
}

// prune drops expired entries and saves the state if that changed it.
func (s *storage) prune() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pruneLocked(s.now()) {
		return s.persistLocked()
	}
	return nil
}

// ---- auth requests and codes ----

// CreateAuthRequest implements op.Storage. Beyond the library's checks it refuses prompt=none
// (there is no silent sign-on), response_mode=form_post, a missing openid scope, PKCE methods
// other than S256, and public clients without PKCE.
func (s *storage) CreateAuthRequest(_ context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if slices.Contains(req.Prompt, oidc.PromptNone) {
		return nil, oidc.ErrLoginRequired().WithDescription("prompt=none: devidp has no silent sign-on; the user must sign in on the login page")
	}
	if !slices.Contains(req.Scopes, oidc.ScopeOpenID) {
		return nil, oidc.ErrInvalidScope().WithDescription("the scope must include openid")
	}
	if req.ResponseMode != "" && req.ResponseMode != oidc.ResponseModeQuery && req.ResponseMode != oidc.ResponseModeFragment {
		return nil, oidc.ErrInvalidRequest().WithDescription("response_mode %q is not supported; use query (the default) or fragment", req.ResponseMode)
	}
	client, ok := s.clients[req.ClientID]
	if !ok {
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	var challenge *oidc.CodeChallenge
	switch {
	case req.CodeChallenge != "" && req.CodeChallengeMethod != oidc.CodeChallengeMethodS256:
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	case req.CodeChallenge != "":
		challenge = &oidc.CodeChallenge{Challenge: req.CodeChallenge, Method: oidc.CodeChallengeMethodS256}
	case client.public():
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE is required for public clients: send code_challenge with code_challenge_method=S256")
	}
	now := s.now()
	ar := &authRequest{
		ID:            randomToken(24),
		CreatedAt:     now,
		ClientID:      req.ClientID,
		RedirectURI:   req.RedirectURI,
		State:         req.State,
		Nonce:         req.Nonce,
		Scopes:        slices.Clone([]string(req.Scopes)),
		ResponseType:  req.ResponseType,
		ResponseMode:  req.ResponseMode,
		CodeChallenge: challenge,
		LoginHint:     req.LoginHint,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pruneLocked(now) {
		if err := s.persistLocked(); err != nil {
			return nil, err
		}
	}
	s.authRequests[ar.ID] = ar
	return ar, nil
}

// AuthRequestByID implements op.Storage.
func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ar, ok := s.authRequests[id]
	if !ok || s.now().Sub(ar.CreatedAt) > authRequestLifetime {
		return nil, errors.New("devidp: auth request not found or expired")
	}
	return ar, nil
}

// AuthRequestByCode implements op.Storage. A code that was already redeemed revokes the tokens
// issued for it (RFC 6749, section 4.1.2).
func (s *storage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if uc, used := s.usedCodes[code]; used {
		revoked := s.revokeWhereLocked(func(authReqID string) bool { return authReqID == uc.authRequestID })
		s.log.Warn("devidp: authorization code used twice; revoked the tokens issued for it", "tokens_revoked", revoked)
		if revoked > 0 {
			if err := s.persistLocked(); err != nil {
				return nil, err
			}
		}
		return nil, errors.New("devidp: authorization code already used")
	}
	id, ok := s.codes[code]
	if !ok {
		return nil, errors.New("devidp: unknown authorization code")
	}
	ar, ok := s.authRequests[id]
	if !ok || now.Sub(ar.CreatedAt) > authRequestLifetime || now.Sub(ar.codeIssuedAt) > codeLifetime {
		return nil, errors.New("devidp: authorization code expired")
	}
	return ar, nil
}

// SaveAuthCode implements op.Storage.
func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ar, ok := s.authRequests[id]
	if !ok {
		return errors.New("devidp: auth request not found or expired")
	}
	if ar.code != "" {
		delete(s.codes, ar.code)
	}
	ar.code = code
	ar.codeIssuedAt = s.now()
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest implements op.Storage. It is called once tokens have been issued for the
// request; its code is remembered to detect a replay.
func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ar, ok := s.authRequests[id]
	if !ok {
		return nil
	}
	delete(s.authRequests, id)
	if ar.code != "" {
		delete(s.codes, ar.code)
		s.usedCodes[ar.code] = usedCode{authRequestID: id, expiresAt: s.now().Add(authRequestLifetime)}
	}
	return nil
}

// ---- login ----

// loginRequest is what the login page needs to know about a pending auth request.
type loginRequest struct {
	ID        string
	ClientID  string
	LoginHint string
}

// pendingLogin returns the auth request id if it exists, has not expired and is not signed in yet.
func (s *storage) pendingLogin(id string) (loginRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ar, ok := s.authRequests[id]
	if !ok || ar.done || s.now().Sub(ar.CreatedAt) > authRequestLifetime {
		return loginRequest{}, false
	}
	return loginRequest{ID: ar.ID, ClientID: ar.ClientID, LoginHint: ar.LoginHint}, true
}

// checkPassword returns the user with this username if the password matches. It takes about the
// same time whether or not the username exists.
func (s *storage) checkPassword(username, password string) (*User, bool) {
	u, ok := s.usersByName[username]
	want := DefaultPassword
	if ok {
		want = u.Password
	}
	match := subtle.ConstantTimeCompare([]byte(password), []byte(want)) == 1
	if !ok || !match {
		return nil, false
	}
	return u, true
}

// completeLogin marks the auth request as signed in by subject, in the provider session of this
// browser: an existing live session of the same person in the same browser is reused, otherwise a
// new one is created.
func (s *storage) completeLogin(id, subject, browserHash string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	ar, ok := s.authRequests[id]
	if !ok || ar.done || now.Sub(ar.CreatedAt) > authRequestLifetime {
		return errors.New("devidp: auth request not found, expired or already signed in")
	}
	var sess *session
	for _, candidate := range s.sessions {
		if candidate.BrowserHash == browserHash && candidate.Subject == subject && now.Before(candidate.ExpiresAt) {
			sess = candidate
			break
		}
	}
	if sess == nil {
		sess = &session{ID: randomToken(18), Subject: subject, BrowserHash: browserHash}
		s.sessions[sess.ID] = sess
	}
	sess.AuthTime = now
	sess.ExpiresAt = later(sess.ExpiresAt, now.Add(s.refreshTTL))
	ar.done = true
	ar.subject = subject
	ar.authTime = now
	ar.sessionID = sess.ID
	return s.persistLocked()
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// ---- tokens ----

// tokenOrigin extracts what tokens need from a token request.
type tokenOrigin struct {
	clientID      string
	sessionID     string
	authRequestID string
	authTime      time.Time
	amr           []string
}

func originOf(req op.TokenRequest) (tokenOrigin, error) {
	switch r := req.(type) {
	case *authRequest:
		return tokenOrigin{clientID: r.ClientID, sessionID: r.sessionID, authRequestID: r.ID, authTime: r.authTime, amr: r.GetAMR()}, nil
	case *refreshTokenRequest:
		return tokenOrigin{clientID: r.token.ClientID, sessionID: r.token.SessionID, authRequestID: r.token.AuthRequestID, authTime: r.token.AuthTime, amr: r.token.AMR}, nil
	default:
		return tokenOrigin{}, oidc.ErrUnsupportedGrantType().WithDescription("devidp supports the authorization code and refresh token grants only")
	}
}

// newAccessTokenLocked records an access token and registers the client with the session.
func (s *storage) newAccessTokenLocked(now time.Time, o tokenOrigin, req op.TokenRequest, family string) *accessToken {
	at := &accessToken{
		ID:            randomToken(24),
		ClientID:      o.clientID,
		Subject:       req.GetSubject(),
		Audience:      slices.Clone(req.GetAudience()),
		Scopes:        slices.Clone(req.GetScopes()),
		ExpiresAt:     now.Add(s.accessTTL),
		SessionID:     o.sessionID,
		RefreshFamily: family,
		AuthRequestID: o.authRequestID,
	}
	s.accessTokens[at.ID] = at
	if sess, ok := s.sessions[o.sessionID]; ok {
		if !slices.Contains(sess.Clients, o.clientID) {
			sess.Clients = append(sess.Clients, o.clientID)
		}
		sess.ExpiresAt = later(sess.ExpiresAt, at.ExpiresAt)
	}
	return at
}

// CreateAccessToken implements op.Storage.
func (s *storage) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	o, err := originOf(req)
	if err != nil {
		return "", time.Time{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.pruneLocked(now)
	at := s.newAccessTokenLocked(now, o, req, "")
	if err := s.persistLocked(); err != nil {
		return "", time.Time{}, err
	}
	return at.ID, at.ExpiresAt, nil
}

// CreateAccessAndRefreshTokens implements op.Storage. With currentRefreshToken set it rotates:
// the current refresh token and its access token are revoked and remembered as used.
func (s *storage) CreateAccessAndRefreshTokens(_ context.Context, req op.TokenRequest, currentRefreshToken string) (string, string, time.Time, error) {
	o, err := originOf(req)
	if err != nil {
		return "", "", time.Time{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.pruneLocked(now)

	family := randomToken(18)
	if currentRefreshToken != "" {
		h := hashToken(currentRefreshToken)
		old, ok := s.refreshTokens[h]
		if !ok {
			// Another request rotated it since the library looked it up.
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token already used")
		}
		family = old.Family
		delete(s.refreshTokens, h)
		delete(s.accessTokens, old.AccessTokenID)
		s.rotated[h] = rotatedToken{Hash: h, Family: family, ExpiresAt: old.ExpiresAt}
	}
	at := s.newAccessTokenLocked(now, o, req, family)
	token := randomToken(32)
	rt := &refreshToken{
		Hash:          hashToken(token),
		Family:        family,
		ClientID:      o.clientID,
		Subject:       req.GetSubject(),
		Audience:      slices.Clone(req.GetAudience()),
		Scopes:        slices.Clone(req.GetScopes()),
		AuthTime:      o.authTime,
		AMR:           slices.Clone(o.amr),
		SessionID:     o.sessionID,
		ExpiresAt:     now.Add(s.refreshTTL),
		AccessTokenID: at.ID,
		AuthRequestID: o.authRequestID,
	}
	s.refreshTokens[rt.Hash] = rt
	if sess, ok := s.sessions[o.sessionID]; ok {
		sess.ExpiresAt = later(sess.ExpiresAt, rt.ExpiresAt)
	}
	if err := s.persistLocked(); err != nil {
		return "", "", time.Time{}, err
	}
	return at.ID, token, at.ExpiresAt, nil
}

// TokenRequestByRefreshToken implements op.Storage. Presenting a refresh token that was already
// rotated revokes the token family: one of the two parties holding it is not the legitimate client.
func (s *storage) TokenRequestByRefreshToken(_ context.Context, token string) (op.RefreshTokenRequest, error) {
	h := hashToken(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	rt, ok := s.refreshTokens[h]
	if ok && now.Before(rt.ExpiresAt) {
		return &refreshTokenRequest{token: *rt}, nil
	}
	if ok {
		delete(s.refreshTokens, h)
		delete(s.accessTokens, rt.AccessTokenID)
		if err := s.persistLocked(); err != nil {
			return nil, err
		}
		return nil, errors.New("devidp: refresh token expired")
	}
	if used, wasRotated := s.rotated[h]; wasRotated {
		revoked := s.revokeFamilyLocked(used.Family)
		s.log.Warn("devidp: a rotated refresh token was used again; revoked its token family (if your app refreshes concurrently, serialise the refreshes)",
			"tokens_revoked", revoked)
		if err := s.persistLocked(); err != nil {
			return nil, err
		}
		return nil, errors.New("devidp: refresh token already used")
	}
	return nil, errors.New("devidp: unknown refresh token")
}

// revokeFamilyLocked deletes the live refresh token of a family and the access tokens issued with
// it, and returns how many tokens it deleted.
func (s *storage) revokeFamilyLocked(family string) int {
	n := 0
	for h, rt := range s.refreshTokens {
		if rt.Family == family {
			delete(s.refreshTokens, h)
			n++
		}
	}
	for id, at := range s.accessTokens {
		if at.RefreshFamily == family {
			delete(s.accessTokens, id)
			n++
		}
	}
	return n
}

// revokeWhereLocked deletes the tokens whose auth request ID matches and returns how many.
func (s *storage) revokeWhereLocked(match func(authRequestID string) bool) int {
	n := 0
	for h, rt := range s.refreshTokens {
		if match(rt.AuthRequestID) {
			delete(s.refreshTokens, h)
			n++
		}
	}
	for id, at := range s.accessTokens {
		if match(at.AuthRequestID) {
			delete(s.accessTokens, id)
			n++
		}
	}
	return n
}

// GetRefreshTokenInfo implements op.Storage.
func (s *storage) GetRefreshTokenInfo(_ context.Context, clientID, token string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refreshTokens[hashToken(token)]
	if !ok || rt.ClientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return rt.Subject, rt.Hash, nil
}

// RevokeToken implements op.Storage (RFC 7009). tokenOrTokenID is an access token ID or the hash
// of a refresh token (see GetRefreshTokenInfo). Unknown tokens are not an error.
func (s *storage) RevokeToken(_ context.Context, tokenOrTokenID, _ string, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if at, ok := s.accessTokens[tokenOrTokenID]; ok {
		if at.ClientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		delete(s.accessTokens, at.ID)
	} else if rt, ok := s.refreshTokens[tokenOrTokenID]; ok {
		if rt.ClientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		delete(s.refreshTokens, rt.Hash)
		delete(s.accessTokens, rt.AccessTokenID)
	} else {
		return nil
	}
	if err := s.persistLocked(); err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
}

// ---- sessions and logout ----

// TerminateSession implements op.Storage. The provider uses TerminateSessionFromRequest instead;
// this revokes the user's tokens for the client.
func (s *storage) TerminateSession(_ context.Context, userID, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revokeUserClientLocked(userID, clientID)
	return s.persistLocked()
}

func (s *storage) revokeUserClientLocked(subject, clientID string) {
	for h, rt := range s.refreshTokens {
		if rt.Subject == subject && rt.ClientID == clientID {
			delete(s.refreshTokens, h)
		}
	}
	for id, at := range s.accessTokens {
		if at.Subject == subject && at.ClientID == clientID {
			delete(s.accessTokens, id)
		}
	}
}

// TerminateSessionFromRequest implements op.CanTerminateSessionFromRequest. It ends the provider
// session named by the sid claim of id_token_hint, or else the session of this browser (see
// withBrowser); revokes its tokens; sends back-channel logout tokens to the clients that took part
// in it; and returns the validated redirect URI.
func (s *storage) TerminateSessionFromRequest(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	var sid string
	if req.IDTokenHintClaims != nil {
		if v, ok := req.IDTokenHintClaims.Claims["sid"].(string); ok {
			sid = v
		}
	}
	browserHash := browserHashFromContext(ctx)

	s.mu.Lock()
	var notices []logoutNotice
	var sess *session
	switch {
	case sid != "":
		if found, ok := s.sessions[sid]; ok && (req.UserID == "" || found.Subject == req.UserID) {
			sess = found
		}
	case req.IDTokenHintClaims == nil && browserHash != "":
		// Without a hint, only the session of this very browser can be ended.
		for _, candidate := range s.sessions {
			if candidate.BrowserHash == browserHash && (sess == nil || candidate.AuthTime.After(sess.AuthTime)) {
				sess = candidate
			}
		}
	}
	switch {
	case sess != nil:
		delete(s.sessions, sess.ID)
		for h, rt := range s.refreshTokens {
			if rt.SessionID == sess.ID {
				delete(s.refreshTokens, h)
			}
		}
		for id, at := range s.accessTokens {
			if at.SessionID == sess.ID {
				delete(s.accessTokens, id)
			}
		}
		for _, clientID := range sess.Clients {
			if c, ok := s.clients[clientID]; ok && c.BackChannelLogoutURI != "" {
				notices = append(notices, logoutNotice{ClientID: clientID, URI: c.BackChannelLogoutURI, Subject: sess.Subject, SessionID: sess.ID})
			}
		}
		s.log.Info("devidp: session ended", "sid", sess.ID, "sub", sess.Subject, "clients", sess.Clients)
	case sid == "" && req.UserID != "" && req.ClientID != "":
		// A hint without a sid (not issued by this provider's sessions): revoke what the client holds.
		s.revokeUserClientLocked(req.UserID, req.ClientID)
		if c, ok := s.clients[req.ClientID]; ok && c.BackChannelLogoutURI != "" {
			notices = append(notices, logoutNotice{ClientID: req.ClientID, URI: c.BackChannelLogoutURI, Subject: req.UserID})
		}
		s.log.Info("devidp: no live session for end_session; revoked the client's tokens", "sub", req.UserID, "client_id", req.ClientID)
	default:
		s.log.Info("devidp: end_session without a session to end")
	}
	err := s.persistLocked()
	s.mu.Unlock()
	if err != nil {
		return "", err
	}
	if len(notices) > 0 {
		s.notify(ctx, notices)
	}
	return req.RedirectURI, nil
}

// ---- keys ----

// SigningKey implements op.Storage.
func (s *storage) SigningKey(context.Context) (op.SigningKey, error) { return s.key, nil }

// SignatureAlgorithms implements op.Storage.
func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

// KeySet implements op.Storage.
func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{s.key}}, nil
}

// ---- clients ----

// GetClientByClientID implements op.Storage.
func (s *storage) GetClientByClientID(_ context.Context, clientID string) (op.Client, error) {
	c, ok := s.clients[clientID]
	if !ok {
		return nil, fmt.Errorf("devidp: unknown client %q", clientID)
	}
	return opClient{c: c, loginURL: s.loginURL, idTokenLifetime: s.idTTL}, nil
}

// AuthorizeClientIDSecret implements op.Storage.
func (s *storage) AuthorizeClientIDSecret(_ context.Context, clientID, clientSecret string) error {
	c, ok := s.clients[clientID]
	if !ok {
		return fmt.Errorf("devidp: unknown client %q", clientID)
	}
	if !c.secretMatches(clientSecret) {
		return fmt.Errorf("devidp: wrong secret for client %q", clientID)
	}
	return nil
}

// ---- claims ----

// SetUserinfoFromScopes implements op.Storage; SetUserinfoFromRequest does the work.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest implements op.CanSetUserinfoFromRequest: the claims of ID tokens, plus
// the sid of the provider session.
func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.setUserinfo(info, req.GetSubject(), scopes); err != nil {
		return err
	}
	var sid string
	switch r := req.(type) {
	case *authRequest:
		sid = r.sessionID
	case *refreshTokenRequest:
		sid = r.token.SessionID
	}
	if sid != "" {
		info.AppendClaims("sid", sid)
	}
	return nil
}

// SetUserinfoFromToken implements op.Storage (the userinfo endpoint).
func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	s.mu.Lock()
	at, ok := s.accessTokens[tokenID]
	var scopes []string
	valid := ok && at.Subject == subject && s.now().Before(at.ExpiresAt)
	if valid {
		scopes = slices.Clone(at.Scopes)
	}
	s.mu.Unlock()
	if !valid {
		return errors.New("devidp: access token invalid, revoked or expired")
	}
	return s.setUserinfo(info, subject, scopes)
}

// SetIntrospectionFromToken implements op.Storage (RFC 7662).
func (s *storage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	s.mu.Lock()
	at, ok := s.accessTokens[tokenID]
	var snapshot accessToken
	valid := ok && at.Subject == subject && s.now().Before(at.ExpiresAt) && slices.Contains(at.Audience, clientID)
	if valid {
		snapshot = *at
	}
	s.mu.Unlock()
	if !valid {
		return errors.New("devidp: token invalid, expired or not for this client")
	}
	info := new(oidc.UserInfo)
	if err := s.setUserinfo(info, subject, snapshot.Scopes); err != nil {
		return err
	}
	resp.SetUserInfo(info)
	resp.Scope = snapshot.Scopes
	resp.ClientID = snapshot.ClientID
	resp.Expiration = oidc.FromTime(snapshot.ExpiresAt)
	resp.Audience = snapshot.Audience
	return nil
}

// setUserinfo fills the standard claims of the user allowed by scopes.
func (s *storage) setUserinfo(info *oidc.UserInfo, subject string, scopes []string) error {
	u, ok := s.usersBySub[subject]
	if !ok {
		return fmt.Errorf("devidp: unknown user %q", subject)
	}
	for _, scope := range scopes {
		switch scope {
		case oidc.ScopeOpenID:
			info.Subject = u.Subject
		case oidc.ScopeEmail:
			info.Email = u.Email
			info.EmailVerified = oidc.Bool(u.EmailVerified)
		case oidc.ScopeProfile:
			info.PreferredUsername = u.Username
			info.Name = u.Name
			info.GivenName = u.GivenName
			info.FamilyName = u.FamilyName
			info.Picture = u.Picture
			if u.Locale != "" {
				if tag, err := language.Parse(u.Locale); err == nil {
					info.Locale = oidc.NewLocale(tag)
				}
			}
		}
	}
	return nil
}

// GetPrivateClaimsFromScopes implements op.Storage: no private claims.
func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID implements op.Storage. JWT client authentication is not supported.
func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("devidp: private_key_jwt client authentication is not supported")
}

// ValidateJWTProfileScopes implements op.Storage. The JWT profile grant is not supported.
func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("devidp: the JWT profile grant is not supported")
}

// Health implements op.Storage.
func (s *storage) Health(context.Context) error { return nil }
