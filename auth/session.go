package auth

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
)

// PendingTTL is how long a sign-in may stay at the provider before its state is refused.
const PendingTTL = 10 * time.Minute

// MaxPending caps the pending sign-ins of one session (one per tab signing in); the oldest goes first.
const MaxPending = 8

// Session keys. Values are JSON bytes or strings, so a struct that changes between releases cannot make
// old sessions undecodable.
const (
	keyUser    = "user"
	keyTokens  = "tokens"
	keyPending = "pending"
	keyCSRF    = "csrf"
	keyLogout  = "logout"
)

// Sessions is the server-side session of a browser: its pending sign-ins, the signed-in user, the tokens
// and the sign-out form's CSRF token, on top of an scs.SessionManager and its store.
type Sessions struct {
	Manager *scs.SessionManager
	store   scs.Store
	now     func() time.Time

	locks   keyedMutex
	renamed sync.Map // old token -> renamed{to, at}: a renewed token that requests in flight still carry
}

type renamed struct {
	to string
	at time.Time
}

// NewSessions configures the session manager for cfg: the cookie (HttpOnly, SameSite=Lax, Path=/, and
// Secure with the __Host- prefix over https), the idle timeout and absolute lifetime, over store.
func NewSessions(cfg Config, store scs.Store) *Sessions {
	sm := scs.New()
	sm.Store = store
	sm.Lifetime = cfg.SessionLifetime
	sm.IdleTimeout = cfg.SessionIdleTimeout
	sm.Codec = tolerantCodec{}
	sm.HashTokenInStore = true
	sm.Cookie.Name = "hxoidc_session"
	sm.Cookie.HttpOnly = true
	sm.Cookie.Path = "/"
	// Lax, not Strict: the provider's redirect back to /auth/callback is a cross-site navigation, and a
	// Strict cookie would not come with it.
	sm.Cookie.SameSite = http.SameSiteLaxMode
	if cfg.Secure() {
		sm.Cookie.Name = "__Host-hxoidc_session"
		sm.Cookie.Secure = true
	}
	return &Sessions{Manager: sm, store: store, now: time.Now}
}

// CookieName is the session cookie's name.
func (s *Sessions) CookieName() string { return s.Manager.Cookie.Name }

// Serialize runs one request at a time per session cookie within this process, and points a request
// that still carries a token renewed a moment ago at its new token. Without it, two callbacks of the
// same browser (two tabs) would each load the session, and the one that commits last would forget the
// other's sign-in; and a request that read the session before a sign-out could write it back after.
// It must wrap the session middleware (LoadAndSave).
func (s *Sessions) Serialize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(s.CookieName())
		if err != nil || c.Value == "" {
			next.ServeHTTP(w, r)
			return
		}
		unlock := s.locks.lock(c.Value)
		defer unlock()
		if to := s.follow(c.Value); to != c.Value {
			r = withCookie(r, s.CookieName(), to)
		}
		next.ServeHTTP(w, r)
	})
}

// follow returns the token that token was renewed to, following a chain of renewals (each tab's
// callback renews the token the previous one produced) no older than a minute.
func (s *Sessions) follow(token string) string {
	for range 16 {
		v, ok := s.renamed.Load(token)
		if !ok {
			break
		}
		rn := v.(renamed)
		if s.now().Sub(rn.at) > time.Minute {
			s.renamed.Delete(token)
			break
		}
		token = rn.to
	}
	return token
}

// pruneRenamed forgets renewals older than a minute, so the map holds only the last minute's sign-ins.
func (s *Sessions) pruneRenamed() {
	now := s.now()
	s.renamed.Range(func(k, v any) bool {
		if now.Sub(v.(renamed).at) > time.Minute {
			s.renamed.Delete(k)
		}
		return true
	})
}

func withCookie(r *http.Request, name, value string) *http.Request {
	r = r.Clone(r.Context())
	cookies := r.Cookies()
	r.Header.Del("Cookie")
	for _, c := range cookies {
		if c.Name == name {
			c.Value = value
		}
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return r
}

func (s *Sessions) getJSON(ctx context.Context, key string, v any) bool {
	b := s.Manager.GetBytes(ctx, key)
	return len(b) > 0 && json.Unmarshal(b, v) == nil
}

func (s *Sessions) putJSON(ctx context.Context, key string, v any) {
	b, _ := json.Marshal(v) // only our own plain structs: cannot fail
	s.Manager.Put(ctx, key, b)
}

// AddPending keeps a sign-in that is leaving for the provider. Expired ones are dropped, and beyond
// MaxPending the oldest.
func (s *Sessions) AddPending(ctx context.Context, p Pending) {
	pending := s.livePending(ctx)
	pending = append(pending, p)
	slices.SortFunc(pending, func(a, b Pending) int { return a.Created.Compare(b.Created) })
	if len(pending) > MaxPending {
		pending = pending[len(pending)-MaxPending:]
	}
	s.putJSON(ctx, keyPending, pending)
}

func (s *Sessions) livePending(ctx context.Context) []Pending {
	var pending []Pending
	s.getJSON(ctx, keyPending, &pending)
	now := s.now()
	return slices.DeleteFunc(pending, func(p Pending) bool { return now.Sub(p.Created) > PendingTTL })
}

// TakePending removes and returns the pending sign-in with this state: each state works once. The state
// is compared in constant time against every pending one.
func (s *Sessions) TakePending(ctx context.Context, state string) (Pending, error) {
	var pending []Pending
	s.getJSON(ctx, keyPending, &pending)
	idx := -1
	for i, p := range pending {
		if subtle.ConstantTimeCompare([]byte(p.State), []byte(state)) == 1 && state != "" {
			idx = i
		}
	}
	if idx < 0 {
		return Pending{}, newError(http.StatusBadRequest, "Sign-in link not recognised",
			"This sign-in response does not belong to a sign-in started in this browser, or it was already used. Please sign in again.",
			fmt.Errorf("%w (%d pending in this session)", ErrUnknownState, len(pending)))
	}
	p := pending[idx]
	pending = slices.Delete(pending, idx, idx+1)
	if len(pending) == 0 {
		s.Manager.Remove(ctx, keyPending)
	} else {
		s.putJSON(ctx, keyPending, pending)
	}
	if age := s.now().Sub(p.Created); age > PendingTTL {
		return Pending{}, newError(http.StatusBadRequest, "Sign-in expired",
			"This sign-in took longer than 10 minutes and has expired. Please sign in again.",
			fmt.Errorf("%w: started %s ago", ErrExpiredState, age.Round(time.Second)))
	}
	return p, nil
}

// SignIn stores the identity under a new session token (against session fixation), keeping the other
// pending sign-ins, and makes a new CSRF token.
func (s *Sessions) SignIn(ctx context.Context, id *Identity) error {
	old := s.Manager.Token(ctx)
	if err := s.Manager.RenewToken(ctx); err != nil {
		return fmt.Errorf("%w: renew token: %w", ErrSessionStore, err)
	}
	if old != "" {
		s.pruneRenamed()
		s.renamed.Store(old, renamed{to: s.Manager.Token(ctx), at: s.now()})
	}
	s.putJSON(ctx, keyUser, id.User)
	s.putJSON(ctx, keyTokens, id.Tokens)
	s.Manager.Put(ctx, keyCSRF, randomString())
	return nil
}

// User is the signed-in user, if any.
func (s *Sessions) User(ctx context.Context) (User, bool) {
	var u User
	ok := s.getJSON(ctx, keyUser, &u) && u.Subject != ""
	return u, ok
}

// Tokens are the signed-in user's tokens.
func (s *Sessions) Tokens(ctx context.Context) (Tokens, bool) {
	var t Tokens
	ok := s.getJSON(ctx, keyTokens, &t)
	return t, ok
}

// SetTokens replaces the tokens after a refresh.
func (s *Sessions) SetTokens(ctx context.Context, t Tokens) { s.putJSON(ctx, keyTokens, t) }

// CSRFToken is the token the sign-out form carries; empty when nobody is signed in.
func (s *Sessions) CSRFToken(ctx context.Context) string { return s.Manager.GetString(ctx, keyCSRF) }

// CheckCSRF compares a submitted token with the session's in constant time.
func (s *Sessions) CheckCSRF(ctx context.Context, token string) bool {
	want := s.CSRFToken(ctx)
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(token)) == 1
}

// LogoutState is remembered across the provider's end-session round trip: the state sent to the provider
// and whether the sign-out runs in a popup.
type LogoutState struct {
	State string `json:"state"`
	Popup bool   `json:"popup,omitempty"`
	// Local: the provider has no end-session endpoint, so its session may still be active.
	Local bool      `json:"local,omitempty"`
	At    time.Time `json:"at"`
}

// SignOut destroys the session and returns its tokens (for the id_token_hint). When logout is not nil, a
// fresh session remembers it for the return from the provider.
func (s *Sessions) SignOut(ctx context.Context, logout *LogoutState) (Tokens, error) {
	t, _ := s.Tokens(ctx)
	old := s.Manager.Token(ctx)
	if err := s.Manager.Destroy(ctx); err != nil {
		return t, fmt.Errorf("%w: destroy: %w", ErrSessionStore, err)
	}
	if old != "" {
		s.renamed.Delete(old)
	}
	if logout != nil {
		s.putJSON(ctx, keyLogout, logout)
	}
	return t, nil
}

// TakeLogout returns and forgets the pending sign-out whose state matches, if any.
func (s *Sessions) TakeLogout(ctx context.Context, state string) (LogoutState, bool) {
	var l LogoutState
	if state == "" || !s.getJSON(ctx, keyLogout, &l) || subtle.ConstantTimeCompare([]byte(l.State), []byte(state)) != 1 {
		return LogoutState{}, false
	}
	s.Manager.Remove(ctx, keyLogout)
	return l, s.now().Sub(l.At) < PendingTTL
}

// EndSessions destroys every session of the provider session sid, or of the subject sub when sid is
// empty, for back-channel logout. It returns how many it ended.
func (s *Sessions) EndSessions(ctx context.Context, iss, sid, sub string) (int, error) {
	n := 0
	err := s.Manager.Iterate(ctx, func(ctx context.Context) error {
		u, ok := s.User(ctx)
		if !ok || u.Issuer != iss {
			return nil
		}
		match := (sid != "" && u.SessionID == sid && (sub == "" || u.Subject == sub)) || (sid == "" && sub != "" && u.Subject == sub)
		if !match {
			return nil
		}
		n++
		// Iterate hands over the token as the store keeps it (hashed, with HashTokenInStore), so the
		// row is deleted directly; Destroy would hash it a second time and miss.
		return deleteCtx(ctx, s.store, s.Manager.Token(ctx))
	})
	if err != nil {
		return n, fmt.Errorf("%w: end sessions: %w", ErrSessionStore, err)
	}
	return n, nil
}

// Seen reports whether key was recorded by MarkSeen and has not expired: the replay check for logout
// token jti values, shared by every instance that shares the store.
func (s *Sessions) Seen(ctx context.Context, key string) (bool, error) {
	_, found, err := findCtx(ctx, s.store, "seen:"+key)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrSessionStore, err)
	}
	return found, nil
}

// MarkSeen records key until expiry.
func (s *Sessions) MarkSeen(ctx context.Context, key string, expiry time.Time) error {
	if err := commitCtx(ctx, s.store, "seen:"+key, []byte{1}, expiry); err != nil {
		return fmt.Errorf("%w: %w", ErrSessionStore, err)
	}
	return nil
}

func findCtx(ctx context.Context, st scs.Store, token string) ([]byte, bool, error) {
	if cs, ok := st.(scs.CtxStore); ok {
		return cs.FindCtx(ctx, token)
	}
	return st.Find(token)
}

func deleteCtx(ctx context.Context, st scs.Store, token string) error {
	if cs, ok := st.(scs.CtxStore); ok {
		return cs.DeleteCtx(ctx, token)
	}
	return st.Delete(token)
}

func commitCtx(ctx context.Context, st scs.Store, token string, b []byte, expiry time.Time) error {
	if cs, ok := st.(scs.CtxStore); ok {
		return cs.CommitCtx(ctx, token, b, expiry)
	}
	return st.Commit(token, b, expiry)
}

// tolerantCodec is JSONCodec, reading gob-encoded sessions (scs's default codec) too. A session it cannot
// decode at all (corrupted, or written by an incompatible release) reads as an empty session instead of
// failing every request of that browser with an error.
type tolerantCodec struct{ JSONCodec }

func (c tolerantCodec) Decode(b []byte) (time.Time, map[string]any, error) {
	if deadline, values, err := c.JSONCodec.Decode(b); err == nil {
		return deadline, values, nil
	}
	if deadline, values, err := (scs.GobCodec{}).Decode(b); err == nil {
		return deadline, values, nil
	}
	return time.Now().Add(time.Minute), map[string]any{}, nil
}

// keyedMutex is a mutex per key, dropped when nobody holds or waits for it.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}

// ErrNotSignedIn is returned for protected routes without a signed-in user.
var ErrNotSignedIn = errors.New("not signed in")
