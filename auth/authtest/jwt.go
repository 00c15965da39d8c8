package authtest

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// sign serialises claims and signs them as mode says (see the Sign*
// constants), with typ as the JOSE "typ" header.
func (p *Provider) sign(claims map[string]any, mode, typ string) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encoding claims: %w", err)
	}
	p.mu.Lock()
	cur := p.cur
	p.mu.Unlock()
	switch mode {
	case SignDefault:
		return signRS256(cur.priv, cur.kid, typ, payload)
	case SignNoKID:
		return signRS256(cur.priv, "", typ, payload)
	case SignWrongKey:
		k, err := p.lazyKey(&p.wrong)
		if err != nil {
			return "", err
		}
		return signRS256(k.priv, cur.kid, typ, payload)
	case SignUnknownKID:
		k, err := p.lazyKey(&p.next)
		if err != nil {
			return "", err
		}
		return signRS256(k.priv, k.kid, typ, payload)
	case SignNone:
		h, _ := json.Marshal(map[string]string{"alg": "none", "typ": typ})
		return b64(h) + "." + b64(payload) + ".", nil
	case SignHS256:
		h, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": typ})
		return signHMAC([]byte(p.opts.ClientSecret), h, payload), nil
	case SignHS256PublicKey:
		der, err := x509.MarshalPKIXPublicKey(&cur.priv.PublicKey)
		if err != nil {
			return "", err
		}
		secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		h, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": typ, "kid": cur.kid})
		return signHMAC(secret, h, payload), nil
	default:
		return "", fmt.Errorf("authtest: unknown Behavior.Sign %q", mode)
	}
}

// lazyKey returns *slot, generating a key into it first if it is nil. The
// slot is guarded by p.mu; generation happens outside the lock.
func (p *Provider) lazyKey(slot **signingKey) (*signingKey, error) {
	p.mu.Lock()
	k := *slot
	p.mu.Unlock()
	if k != nil {
		return k, nil
	}
	k, err := newSigningKey()
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if *slot == nil {
		*slot = k
	}
	return *slot, nil
}

func signRS256(priv any, kid, typ string, payload []byte) (string, error) {
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ))
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: priv}, opts)
	if err != nil {
		return "", fmt.Errorf("creating signer: %w", err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	return obj.CompactSerialize()
}

func signHMAC(secret, header, payload []byte) string {
	input := b64(header) + "." + b64(payload)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(input))
	return input + "." + b64(mac.Sum(nil))
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// leftHalfHash is the at_hash of an access token for RS256 (OIDC Core
// §3.1.3.6).
func leftHalfHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return b64(sum[:len(sum)/2])
}

// s256 is the PKCE S256 transformation (RFC 7636 §4.2).
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return b64(sum[:])
}

// verifyOwnToken checks that raw is an RS256 JWT signed by any key this
// provider ever published, and returns its claims. Expiry is not checked
// (an id_token_hint may be expired).
func (p *Provider) verifyOwnToken(raw string) (map[string]any, error) {
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	keys := append([]*signingKey(nil), p.allKeys...)
	p.mu.Unlock()
	for _, k := range keys {
		payload, err := jws.Verify(&k.priv.PublicKey)
		if err != nil {
			continue
		}
		var claims map[string]any
		if err := json.Unmarshal(payload, &claims); err != nil {
			return nil, err
		}
		return claims, nil
	}
	return nil, errors.New("signature not made by this provider")
}
