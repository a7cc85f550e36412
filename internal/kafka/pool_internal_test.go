package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// An array from the pool has room for the records asked for, whatever was
// given back before: arrays of a class's exact size and arrays franz-go
// grew itself, filed by the class they fill.
func TestRecordArraysSizeClasses(t *testing.T) {
	var a recordArrays
	for _, put := range [][]kgo.Record{
		a.GetRecords(1), a.GetRecords(3), a.GetRecords(1024),
		make([]kgo.Record, 1500), make([]kgo.Record, 0, 5), nil,
		make([]kgo.Record, 0, 1<<(maxPooledClass+1)),
	} {
		a.PutRecords(put)
	}
	for _, n := range []int{1, 2, 3, 4, 5, 17, 1000, 1024, 1025, 1500, 2048, 1<<maxPooledClass + 1} {
		for range 3 { // new, then given back
			got := a.GetRecords(n)
			if len(got) != 0 || cap(got) < n {
				t.Fatalf("GetRecords(%d): len %d cap %d, want empty with room for %d", n, len(got), cap(got), n)
			}
			a.PutRecords(got)
		}
	}
	if got := a.GetRecords(0); got != nil {
		t.Errorf("GetRecords(0) = cap %d, want nil", cap(got))
	}
}
