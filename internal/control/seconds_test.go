package control

import (
	"testing"
	"time"
)

func TestSecondsFlag(t *testing.T) {
	for in, want := range map[string]time.Duration{"30": 30 * time.Second, "0.5": 500 * time.Millisecond, "0": 0} {
		var s SecondsFlag
		if err := s.Set(in); err != nil || time.Duration(s) != want {
			t.Errorf("Set(%q) = %v, %v; want %v", in, time.Duration(s), err, want)
		}
	}
	for _, bad := range []string{"", "-1", "NaN", "Inf", "1e10", "ten"} {
		var s SecondsFlag
		if err := s.Set(bad); err == nil {
			t.Errorf("Set(%q): want an error", bad)
		}
	}
}
