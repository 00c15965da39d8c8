package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
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
	// keyStub marks what stays under a token renewed at sign-in: other tabs' pending sign-ins, for a
	// minute, and nothing else.
	keyStub = "stub"
)

// Sessions is the server-side session of a browser: its pending sign-ins, the signed-in user, the tokens
// and the sign-out form's CSRF token, on top of an scs.SessionManager and its store.
type Sessions struct {
	Manager *scs.SessionManager
	store   scs.Store
	now     func() time.Time

	locks keyedMutex
	// LockWait bounds how long a request waits for another request of the same session (a callback
	// waiting on a slow provider) before it goes ahead on its own.
	LockWait time.Duration
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
	return &Sessions{Manager: sm, store: store, now: time.Now, LockWait: 500 * time.Millisecond}
}

// CookieName is the session cookie's name.
func (s *Sessions) CookieName() string { return s.Manager.Cookie.Name }

// Serialize runs one request at a time per session cookie within this process, so that two tabs
// starting sign-ins at once cannot each load the session and lose the other's pending sign-in, and a
// request that read the session before a sign-out cannot write it back after. A request waits at most
// LockWait (a callback may wait on a slow provider), then goes ahead: Save never re-creates a session
// that was ended meanwhile. It must wrap the session middleware.
func (s *Sessions) Serialize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(s.CookieName())
		if err != nil || c.Value == "" {
			next.ServeHTTP(w, r)
			return
		}
		if unlock, ok := s.locks.lock(r.Context(), s.storeKey(c.Value), s.LockWait); ok {
			defer unlock()
			r = r.WithContext(context.WithValue(r.Context(), lockedKey{}, true))
		}
		next.ServeHTTP(w, r)
	})
}

type lockedKey struct{}

// Locked reports whether this request holds its session's lock. Whatever spends a one-time credential
// (a refresh token) must only run with it: a request that gave up waiting could spend it a second time.
func Locked(ctx context.Context) bool { v, _ := ctx.Value(lockedKey{}).(bool); return v }

// storeKey is the key the store keeps token under (scs hashes it when HashTokenInStore is set).
func (s *Sessions) storeKey(token string) string {
	if !s.Manager.HashTokenInStore {
		return token
	}
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
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
	if _, signedIn := s.User(ctx); !signedIn {
		// A session that only waits for sign-ins lives as long as they do, so anonymous visitors cannot
		// fill the store with sessions for the whole idle timeout.
		s.Manager.SetDeadline(ctx, s.now().Add(PendingTTL+time.Minute))
	}
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

// SignIn stores the identity under a new session token (against session fixation) and makes a new
// CSRF token. Other tabs' pending sign-ins move to the new session; for a minute they also stay under
// the old token, in a session that holds nothing else, so a callback of another tab that is already on its
// way with the old cookie still completes. Whoever knew the old token (fixation) finds no user there.
func (s *Sessions) SignIn(ctx context.Context, id *Identity, spent string) error {
	old := s.Manager.Token(ctx)
	pending := s.livePending(ctx)
	if old != "" {
		// A tab may have added a pending sign-in under this token after this request loaded it (it gave up
		// waiting for the session lock): take the stored list too, less the state this sign-in spent.
		pending = mergePending(pending, s.storedPending(ctx, old), spent)
		s.putJSON(ctx, keyPending, pending)
	}
	if err := s.Manager.RenewToken(ctx); err != nil {
		return fmt.Errorf("%w: renew token: %w", ErrSessionStore, err)
	}
	if old != "" && len(pending) > 0 {
		b, _ := json.Marshal(pending)
		until := s.now().Add(time.Minute)
		blob, err := s.Manager.Codec.Encode(until, map[string]any{keyPending: b, keyStub: true})
		if err == nil {
			err = commitCtx(ctx, s.store, s.storeKey(old), blob, until)
		}
		if err != nil {
			return fmt.Errorf("%w: keep pending sign-ins: %w", ErrSessionStore, err)
		}
	}
	s.Manager.Remove(ctx, keyStub)
	s.putJSON(ctx, keyUser, id.User)
	s.putJSON(ctx, keyTokens, id.Tokens)
	s.Manager.Put(ctx, keyCSRF, randomString())
	return nil
}

// storedPending reads the live pending sign-ins the store holds for token now.
func (s *Sessions) storedPending(ctx context.Context, token string) []Pending {
	b, found, err := findCtx(ctx, s.store, s.storeKey(token))
	if err != nil || !found {
		return nil
	}
	_, values, err := s.Manager.Codec.Decode(b)
	if err != nil {
		return nil
	}
	raw, _ := values[keyPending].([]byte)
	var pending []Pending
	if json.Unmarshal(raw, &pending) != nil {
		return nil
	}
	now := s.now()
	return slices.DeleteFunc(pending, func(p Pending) bool { return now.Sub(p.Created) > PendingTTL })
}

// mergePending is a and b by state, without spent, oldest first, at most MaxPending.
func mergePending(a, b []Pending, spent string) []Pending {
	out := slices.Clone(a)
	for _, p := range b {
		if p.State != spent && !slices.ContainsFunc(out, func(q Pending) bool { return q.State == p.State }) {
			out = append(out, p)
		}
	}
	out = slices.DeleteFunc(out, func(p Pending) bool { return p.State == spent })
	slices.SortFunc(out, func(x, y Pending) int { return x.Created.Compare(y.Created) })
	if len(out) > MaxPending {
		out = out[len(out)-MaxPending:]
	}
	return out
}

// IsStub reports a session that is only the stub a sign-in left under its old token.
func (s *Sessions) IsStub(ctx context.Context) bool { return s.Manager.Exists(ctx, keyStub) }

// Unstub turns a stub into a session of its own, under a new token.
func (s *Sessions) Unstub(ctx context.Context) error {
	if err := s.Manager.RenewToken(ctx); err != nil {
		return fmt.Errorf("%w: renew token: %w", ErrSessionStore, err)
	}
	s.Manager.Remove(ctx, keyStub)
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
	if err := s.Manager.Destroy(ctx); err != nil {
		return t, fmt.Errorf("%w: destroy: %w", ErrSessionStore, err)
	}
	if logout != nil {
		s.putJSON(ctx, keyLogout, logout)
		s.Manager.SetDeadline(ctx, s.now().Add(PendingTTL+time.Minute))
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
		// row is deleted directly; Destroy would hash it a second time and miss. Requests of that session
		// in flight cannot write it back: Save only touches sessions that still exist.
		key := s.Manager.Token(ctx)
		if unlock, ok := s.locks.lock(ctx, key, s.LockWait); ok {
			defer unlock()
		}
		return deleteCtx(ctx, s.store, key)
	})
	if err != nil {
		return n, fmt.Errorf("%w: end sessions: %w", ErrSessionStore, err)
	}
	return n, nil
}

// ErrReplayed is returned by EndSessionsOnce for a logout token whose jti was seen before.
var ErrReplayed = errors.New("logout token replayed")

// EndSessionsOnce is EndSessions for one back-channel logout token: a token id (jti) is acted on once.
// Within a process the check and the record are atomic; instances sharing a store see each other's
// records. The jti is recorded after the sessions ended, so a provider that retries after a store
// failure is not refused.
func (s *Sessions) EndSessionsOnce(ctx context.Context, jti string, expiry time.Time, iss, sid, sub string) (int, error) {
	key := "jti:" + iss + ":" + jti
	unlock, ok := s.locks.lock(ctx, "seen:"+key, 10*time.Second)
	if !ok {
		return 0, fmt.Errorf("%w: busy with the same logout token", ErrSessionStore)
	}
	defer unlock()
	if seen, err := s.Seen(ctx, key); err != nil {
		return 0, err
	} else if seen {
		return 0, fmt.Errorf("%w: jti %q", ErrReplayed, jti)
	}
	n, err := s.EndSessions(ctx, iss, sid, sub)
	if err != nil {
		return n, err
	}
	return n, s.MarkSeen(ctx, key, expiry)
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
	ch   chan struct{} // holds a token while locked
	refs int
}

// lock takes the key's lock, waiting at most wait (or until ctx ends); ok is false when it gave up.
func (k *keyedMutex) lock(ctx context.Context, key string, wait time.Duration) (unlock func(), ok bool) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{ch: make(chan struct{}, 1)}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()
	release := func() {
		k.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case e.ch <- struct{}{}:
		return func() { <-e.ch; release() }, true
	case <-timer.C:
	case <-ctx.Done():
	}
	release()
	return nil, false
}

// Snapshot is a session as it was loaded: Save needs to know which token it came with.
type Snapshot struct {
	token string
}

// Snapshot records the loaded session of ctx.
func (s *Sessions) Snapshot(ctx context.Context) Snapshot {
	return Snapshot{token: s.Manager.Token(ctx)}
}

func (s *Sessions) values(ctx context.Context) map[string]any {
	m := map[string]any{}
	for _, k := range s.Manager.Keys(ctx) {
		m[k] = s.Manager.Get(ctx, k)
	}
	return m
}

// Save commits the session at the end of a request and sets or clears the cookie. A session that came
// with the request is only ever updated, never re-created: if it was ended while the request ran (sign-out
// in another tab, back-channel logout, a request that waited for the session lock in vain), it stays
// ended and the request's changes to it are dropped. New sessions, and sessions
// under a renewed token, are inserted.
func (s *Sessions) Save(ctx context.Context, w http.ResponseWriter, snap Snapshot) error {
	sm := s.Manager
	switch sm.Status(ctx) {
	case scs.Modified:
		if token := sm.Token(ctx); token != "" && token == snap.token {
			deadline := sm.Deadline(ctx)
			expiry := deadline
			if sm.IdleTimeout > 0 {
				expiry = minTime(expiry, s.now().Add(sm.IdleTimeout))
			}
			b, err := sm.Codec.Encode(deadline, s.values(ctx))
			if err != nil {
				return fmt.Errorf("%w: encode: %w", ErrSessionStore, err)
			}
			found, err := touchCtx(ctx, s.store, s.storeKey(token), b, expiry)
			if err != nil {
				return fmt.Errorf("%w: update: %w", ErrSessionStore, err)
			}
			// No cookie when the session is gone or is a stub: the browser may already hold the newer
			// token of a sign-in that renewed this one, which setting or clearing the cookie would throw away.
			if found && !sm.Exists(ctx, keyStub) {
				sm.WriteSessionCookie(ctx, w, token, expiry)
			}
			return nil
		}
		token, expiry, err := sm.Commit(ctx)
		if err != nil {
			return fmt.Errorf("%w: commit: %w", ErrSessionStore, err)
		}
		sm.WriteSessionCookie(ctx, w, token, expiry)
	case scs.Destroyed:
		sm.WriteSessionCookie(ctx, w, "", time.Time{})
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// Toucher is a store that can replace a live session without re-creating one that was deleted.
// MemoryStore and sqlitestore.Store implement it; for other stores Save finds, then commits.
type Toucher interface {
	TouchCtx(ctx context.Context, token string, b []byte, expiry time.Time) (found bool, err error)
}

func touchCtx(ctx context.Context, st scs.Store, token string, b []byte, expiry time.Time) (bool, error) {
	if t, ok := st.(Toucher); ok {
		return t.TouchCtx(ctx, token, b, expiry)
	}
	if _, found, err := findCtx(ctx, st, token); err != nil || !found {
		return false, err
	}
	return true, commitCtx(ctx, st, token, b, expiry)
}

// ErrNotSignedIn is returned for protected routes without a signed-in user.
var ErrNotSignedIn = errors.New("not signed in")
