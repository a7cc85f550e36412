package control

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// SecondsFlag is a command-line flag of (possibly fractional) seconds, the
// unit the original tools took (--exit-after 30, --interval 0.5).
type SecondsFlag time.Duration

func (s *SecondsFlag) String() string {
	return strconv.FormatFloat(time.Duration(*s).Seconds(), 'g', -1, 64)
}

// Set implements flag.Value.
func (s *SecondsFlag) Set(v string) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) || f > 1e9 {
		return fmt.Errorf("want a number of seconds, got %q", v)
	}
	*s = SecondsFlag(f * float64(time.Second))
	return nil
}
