package auth

import (
	"crypto/sha512"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/streamforge/streamforge/internal/secret"
)

func TestCheck(t *testing.T) {
	const tok, salt, sec = "21a2ae36-32994870a9fbf2f61ea6f6c8", "s4lt", "dea42a58-acf4"
	sum := sha512.Sum512([]byte(tok + salt + sec))
	hexHash := salt + "." + Hash(tok, salt, sec)
	b64Raw := salt + "." + base64.RawStdEncoding.EncodeToString(sum[:])
	b64Pad := salt + "." + base64.StdEncoding.EncodeToString(sum[:])
	upperHex := salt + "." + strings.ToUpper(Hash(tok, salt, sec))

	cases := []struct {
		name    string
		raw     []string
		hashed  []string
		secrets []secret.String
		token   string
		want    bool
	}{
		{"raw ok", []string{"other", tok}, nil, nil, tok, true},
		{"raw wrong", []string{tok}, nil, nil, tok + "x", false},
		{"raw prefix", []string{tok}, nil, nil, tok[:5], false},
		{"empty token", []string{tok}, nil, nil, "", false},
		{"raw with spaces in the list", []string{" " + tok + " "}, nil, nil, tok, true},
		{"hashed hex", nil, []string{hexHash}, []secret.String{sec}, tok, true},
		{"hashed upper hex", nil, []string{upperHex}, []secret.String{sec}, tok, true},
		{"hashed base64 (jitsu)", nil, []string{b64Raw}, []secret.String{sec}, tok, true},
		{"hashed base64 padded", nil, []string{b64Pad}, []secret.String{sec}, tok, true},
		{"hashed second secret", nil, []string{hexHash}, []secret.String{"old", sec}, tok, true},
		{"hashed wrong secret", nil, []string{hexHash}, []secret.String{"other"}, tok, false},
		{"hashed wrong token", nil, []string{hexHash}, []secret.String{sec}, "nope", false},
		{"hashed is not raw", nil, []string{hexHash}, []secret.String{sec}, hexHash, false},
		{"no dot in hashed list is raw (jitsu)", nil, []string{tok}, nil, tok, true},
		{"hashed without secret", nil, []string{salt + "." + Hash(tok, salt, "")}, nil, tok, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts, err := New(c.raw, c.hashed, c.secrets)
			if err != nil {
				t.Fatal(err)
			}
			if !ts.Enabled() {
				t.Fatal("Enabled false with tokens configured")
			}
			if got := ts.Check(c.token); got != c.want {
				t.Errorf("Check = %v, want %v", got, c.want)
			}
		})
	}
}

func TestDisabled(t *testing.T) {
	for _, ts := range []*Tokens{nil, {}, must(New(nil, nil, nil)), must(New([]string{"", " "}, []string{""}, []secret.String{"x"}))} {
		if ts.Enabled() || ts.Check("") || ts.Check("x") {
			t.Errorf("%+v: want disabled and rejecting", ts)
		}
	}
}

func TestMalformedHashNamesPositionOnly(t *testing.T) {
	_, err := New(nil, []string{"a." + Hash("x", "a", ""), "salt.not-a-hash-SECRETISH"}, nil)
	if err == nil {
		t.Fatal("want an error")
	}
	if !strings.Contains(err.Error(), "auth token 2") || strings.Contains(err.Error(), "SECRETISH") {
		t.Errorf("error %q: want the position and not the value", err)
	}
}

func must(t *Tokens, err error) *Tokens {
	if err != nil {
		panic(err)
	}
	return t
}
