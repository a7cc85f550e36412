package loader

import (
	"sync/atomic"
	"testing"
)

func TestParallelCoversEveryIndexOnce(t *testing.T) {
	for _, workers := range []int{0, 1, 4} {
		for _, n := range []int{0, 1, 255, 512, 1000, 10001} {
			seen := make([]atomic.Int32, n)
			parallel(n, workers, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					seen[i].Add(1)
				}
			})
			for i := range seen {
				if c := seen[i].Load(); c != 1 {
					t.Fatalf("workers=%d n=%d: index %d visited %d times", workers, n, i, c)
				}
			}
		}
	}
}
