package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// An array from the pool has room for the records asked for, given back
// or new; counts beyond the largest class are left to franz-go.
func TestRecordArraysSizeClasses(t *testing.T) {
	var a recordArrays
	for _, n := range []int{1, 2, 3, 17, 1000, 1 << maxPooledClass} {
		got := a.GetRecords(n)
		if len(got) != 0 || cap(got) < n {
			t.Errorf("GetRecords(%d): len %d cap %d, want empty with room for %d", n, len(got), cap(got), n)
		}
		a.PutRecords(got[:n])
		// An array franz-go grew itself, of no class's exact size.
		a.PutRecords(make([]kgo.Record, n, n+n/2))
		if again := a.GetRecords(n); len(again) != 0 || cap(again) < n {
			t.Errorf("GetRecords(%d) after puts: len %d cap %d", n, len(again), cap(again))
		}
	}
	for _, n := range []int{0, -1, 1<<maxPooledClass + 1} {
		if got := a.GetRecords(n); got != nil {
			t.Errorf("GetRecords(%d) = cap %d, want nil", n, cap(got))
		}
	}
	a.PutRecords(nil)
	a.PutRecords(make([]kgo.Record, 0, 1<<(maxPooledClass+1)))
}
