package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// LogoutKeyRefresh is how often at most an unknown key id in a back-channel logout token makes the app
// fetch the provider's JWKS again. That endpoint takes unauthenticated posts, and go-oidc's key set
// refetches for every unknown kid: without a limit, anyone could make the app hammer the provider. A
// token that arrives within the interval waits for the next allowed fetch instead of being refused, so
// a provider that signs with a freshly rotated key is not turned away.
const LogoutKeyRefresh = 5 * time.Second

// limitedKeySet is the provider's JWKS for verifying logout tokens, refetched on an unknown key id at
// most once per LogoutKeyRefresh. It implements oidc.KeySet.
type limitedKeySet struct {
	url    string
	client *http.Client
	now    func() time.Time

	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetched time.Time
}

// VerifySignature implements oidc.KeySet. go-oidc has already checked the algorithm against the allowed
// ones; parsing again here only accepts compact tokens with the asymmetric algorithms anyway.
func (k *limitedKeySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	algs := make([]jose.SignatureAlgorithm, len(asymmetricAlgs))
	for i, a := range asymmetricAlgs {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	jws, err := jose.ParseSignedCompact(raw, algs)
	if err != nil {
		return nil, fmt.Errorf("auth: malformed token: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("auth: token must have exactly one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	noKey := fmt.Errorf("auth: no key %q in the provider's JWKS verifies the token", kid)

	k.mu.Lock()
	if payload, ok := verifyWithKeys(jws, kid, k.keys); ok {
		k.mu.Unlock()
		return payload, nil
	}
	last := k.fetched
	wait := LogoutKeyRefresh - k.now().Sub(last)
	k.mu.Unlock()
	// Wait (once) for the next allowed fetch.
	if !last.IsZero() && wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("auth: waiting to refetch the JWKS for key %q: %w", kid, ctx.Err())
		case <-t.C:
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	// Whoever fetched while this one waited fetched for it too.
	if k.fetched.Equal(last) {
		if err := k.fetch(ctx); err != nil {
			return nil, err
		}
	}
	if payload, ok := verifyWithKeys(jws, kid, k.keys); ok {
		return payload, nil
	}
	return nil, noKey
}

func verifyWithKeys(jws *jose.JSONWebSignature, kid string, keys []jose.JSONWebKey) ([]byte, bool) {
	for _, key := range keys {
		if kid != "" && key.KeyID != kid {
			continue
		}
		if payload, err := jws.Verify(&key); err == nil {
			return payload, true
		}
	}
	return nil, false
}

// fetch loads the JWKS; k.mu is held.
func (k *limitedKeySet) fetch(ctx context.Context) error {
	k.fetched = k.now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return fmt.Errorf("auth: JWKS request: %w", err)
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return fmt.Errorf("auth: fetch JWKS %s: %w", k.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("auth: fetch JWKS %s: %s", k.url, resp.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return fmt.Errorf("auth: decode JWKS %s: %w", k.url, err)
	}
	k.keys = set.Keys
	return nil
}
