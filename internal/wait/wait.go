// Package wait is the tests' one way to wait for something to happen:
// poll a condition until it holds or time runs out, instead of sleeping.
package wait

import (
	"testing"
	"time"
)

// Interval is how often For checks its condition.
const Interval = 20 * time.Millisecond

// For fails the test unless cond holds within the given time; what says
// what was awaited.
func For(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(Interval)
	}
}
