// Package auth checks bulker's API tokens. Tokens are configured raw or as
// "salt.hash" with hash = sha512(token + salt + secret), the scheme of
// Jitsu Bulker's BULKER_AUTH_TOKENS. The hash is accepted in hex (Jitsu's
// current HashTokenHex) or in standard base64 with or without padding
// (Jitsu's older HashTokenBase64), so existing Jitsu token lists work
// unchanged.
package auth

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/streamforge/streamforge/internal/secret"
)

// Tokens is the set of accepted tokens. The zero value and a set built from
// no tokens accept nothing and report Enabled false.
type Tokens struct {
	raw     [][sha256.Size]byte // digests, so comparisons take the same time whatever the lengths
	hashed  []hashed
	secrets []string
}

type hashed struct {
	salt string
	sum  []byte // the sha512 digest
}

// New builds the token set. raw tokens are compared as they are; each of
// hashed is "salt.hash", or a raw token when it holds no dot (as in Jitsu).
// A hashed token is checked with every secret (an empty list means the
// empty secret). An error names the position of a malformed entry, never
// its value.
func New(raw, hashedTokens []string, secrets []secret.String) (*Tokens, error) {
	t := &Tokens{}
	for _, r := range raw {
		if r = strings.TrimSpace(r); r != "" {
			t.raw = append(t.raw, sha256.Sum256([]byte(r)))
		}
	}
	for i, h := range hashedTokens {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		salt, enc, ok := strings.Cut(h, ".")
		if !ok {
			t.raw = append(t.raw, sha256.Sum256([]byte(h)))
			continue
		}
		sum, err := decodeHash(enc)
		if err != nil {
			return nil, fmt.Errorf("auth token %d: %w", i+1, err)
		}
		t.hashed = append(t.hashed, hashed{salt: salt, sum: sum})
	}
	for _, s := range secrets {
		t.secrets = append(t.secrets, s.Reveal())
	}
	if len(t.secrets) == 0 {
		t.secrets = []string{""}
	}
	return t, nil
}

func decodeHash(s string) ([]byte, error) {
	if len(s) == 2*sha512.Size {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.StdEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == sha512.Size {
			return b, nil
		}
	}
	return nil, fmt.Errorf("want salt.hash with a SHA-512 hash in hex (128 characters) or base64")
}

// Enabled reports whether any token is configured; with none, the API is
// open.
func (t *Tokens) Enabled() bool { return t != nil && len(t.raw)+len(t.hashed) > 0 }

// Check reports whether token is one of the configured tokens. Every
// comparison is constant-time.
func (t *Tokens) Check(token string) bool {
	if !t.Enabled() || token == "" {
		return false
	}
	ok := 0
	d := sha256.Sum256([]byte(token))
	for i := range t.raw {
		ok |= subtle.ConstantTimeCompare(d[:], t.raw[i][:])
	}
	for _, h := range t.hashed {
		for _, s := range t.secrets {
			sum := sha512.Sum512([]byte(token + h.salt + s))
			ok |= subtle.ConstantTimeCompare(sum[:], h.sum)
		}
	}
	return ok == 1
}

// Hash returns the hex hash of token for BULKER_AUTH_TOKENS, to be written
// as salt + "." + Hash(token, salt, secret).
func Hash(token, salt string, secret secret.String) string {
	sum := sha512.Sum512([]byte(token + salt + secret.Reveal()))
	return hex.EncodeToString(sum[:])
}
