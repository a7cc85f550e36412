package kafka

import (
	"math/bits"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// maxPooledClass bounds the arrays recordArrays keeps: 1<<16 records.
// Larger ones come from franz-go and go to the collector.
const maxPooledClass = 16

// recordArrays is franz-go's pool of the arrays it decodes the records
// of each fetched batch into (kgo.PoolRecords). A consumer copies every
// record out as it hands it over and recycles it at once, so an array is
// free again as soon as the records kept of its batch are handed over: a
// loader would otherwise allocate an array for every batch, 160 bytes a
// record. The copies stay valid: franz-go allocates each record's
// headers, and keys and values point into the fetch response or the
// buffer it was decompressed into, neither of which is pooled. This type
// must never implement kgo.PoolDecompressBytes: loaders keep pointers
// into values until their batch is committed (see Record.Value).
//
// Fetched batches hold from one record to thousands, so arrays are kept
// by size class: class k holds arrays of at least 1<<k records.
type recordArrays struct {
	classes [maxPooledClass + 1]sync.Pool
}

// GetRecords implements kgo.PoolRecords: an empty array with room for n
// records.
func (a *recordArrays) GetRecords(n int) []kgo.Record {
	if n <= 0 {
		return nil
	}
	k := bits.Len(uint(n - 1)) // the least k with 1<<k >= n
	if k > maxPooledClass {
		return make([]kgo.Record, 0, n)
	}
	if p, ok := a.classes[k].Get().(*[]kgo.Record); ok {
		return (*p)[:0]
	}
	return make([]kgo.Record, 0, 1<<k)
}

// PutRecords implements kgo.PoolRecords. franz-go clears the records it
// hands out as they are recycled, but not those it decoded and skipped
// (below the fetch offset): they would keep their fetch response
// reachable while the array waits.
func (a *recordArrays) PutRecords(rs []kgo.Record) {
	k := bits.Len(uint(cap(rs))) - 1 // the greatest k with 1<<k <= cap
	if k < 0 || k > maxPooledClass {
		return
	}
	clear(rs[:cap(rs)])
	rs = rs[:0]
	a.classes[k].Put(&rs)
}
