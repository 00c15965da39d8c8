package devidp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// logoutTokenLifetime is how long a back-channel logout token is valid ("exp" - "iat").
const logoutTokenLifetime = 2 * time.Minute

// logoutTokenType is the explicit JWT type recommended by OpenID Connect Back-Channel Logout 1.0,
// section 2.4.
const logoutTokenType = "logout+jwt"

// backChannel signs logout tokens and delivers them (OpenID Connect Back-Channel Logout 1.0).
type backChannel struct {
	issuer string
	key    *signingKey
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
}

func newBackChannel(issuer string, key *signingKey, hc *http.Client, log *slog.Logger) *backChannel {
	var c http.Client
	if hc != nil {
		c = *hc
	} else {
		c.Timeout = defaultBackChannelTimeout
	}
	// A logout token must reach the registered URI itself, not wherever it redirects to.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &backChannel{issuer: issuer, key: key, client: &c, log: log, now: time.Now}
}

// logoutToken returns a signed logout token for one client: iss, aud, iat, exp, jti, sub, sid and
// the back-channel logout event; never a nonce.
func (b *backChannel) logoutToken(n logoutNotice) (string, error) {
	now := b.now()
	claims := oidc.NewLogoutTokenClaims(b.issuer, n.Subject, oidc.Audience{n.ClientID}, now.Add(logoutTokenLifetime), randomToken(18), n.SessionID, 0)
	claims.IssuedAt = oidc.FromTime(now)
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("devidp: encode logout token: %w", err)
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: &jose.JSONWebKey{Key: b.key.key, KeyID: b.key.id}},
		(&jose.SignerOptions{}).WithType(logoutTokenType),
	)
	if err != nil {
		return "", fmt.Errorf("devidp: create logout token signer: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("devidp: sign logout token: %w", err)
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("devidp: serialise logout token: %w", err)
	}
	return token, nil
}

// notify sends the notices concurrently and waits for all of them. Failures are logged, never
// returned: a relying party that is down must not stop the user from signing out. The delivery
// outlives a cancelled ctx (the browser may go away) but not the client's timeout.
func (b *backChannel) notify(ctx context.Context, notices []logoutNotice) {
	ctx = context.WithoutCancel(ctx)
	if b.client.Timeout <= 0 {
		// A caller-supplied client without a timeout must not hang the user's sign-out.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultBackChannelTimeout)
		defer cancel()
	}
	var wg sync.WaitGroup
	for _, n := range notices {
		wg.Go(func() {
			if err := b.send(ctx, n); err != nil {
				b.log.Warn("devidp: back-channel logout failed", "client_id", n.ClientID, "uri", n.URI, "error", err)
				return
			}
			b.log.Info("devidp: back-channel logout delivered", "client_id", n.ClientID, "uri", n.URI, "sid", n.SessionID)
		})
	}
	wg.Wait()
}

func (b *backChannel) send(ctx context.Context, n logoutNotice) error {
	token, err := b.logoutToken(n)
	if err != nil {
		return err
	}
	body := url.Values{"logout_token": {token}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URI, strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("devidp: build back-channel logout request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.client.Do(req)
	if err != nil {
		return fmt.Errorf("devidp: post back-channel logout: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	// Drain a little so the connection can be reused; the content is not used.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("devidp: back-channel logout answered %s", resp.Status)
	}
	return nil
}
