// Package secret holds the string type for passwords and tokens: it prints
// as "***" in logs, errors, JSON and fmt verbs, so a secret can sit in a
// config struct without leaking when the struct is logged.
package secret

// String is a secret value.
type String string

// String implements fmt.Stringer.
func (String) String() string { return "***" }

// GoString implements fmt.GoStringer so %#v does not leak either.
func (String) GoString() string { return `"***"` }

// MarshalText keeps secrets out of JSON and slog output.
func (String) MarshalText() ([]byte, error) { return []byte("***"), nil }

// Reveal returns the value, for the one place that must send it.
func (s String) Reveal() string { return string(s) }
