package kafka

import (
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// fetches is one fetch of n records from each of parts partitions of
// topic t, the offsets of partition p starting at 100*p.
func fetches(t string, parts, n int) kgo.Fetches {
	ft := kgo.FetchTopic{Topic: t}
	for p := range parts {
		fp := kgo.FetchPartition{Partition: int32(p)}
		for i := range n {
			fp.Records = append(fp.Records, &kgo.Record{Topic: t, Partition: int32(p), Offset: int64(100*p + i), LeaderEpoch: 3})
		}
		ft.Partitions = append(ft.Partitions, fp)
	}
	return kgo.Fetches{{Topics: []kgo.FetchTopic{ft}}}
}

func testMembership() *membership {
	return newMembership("g", 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func TestHandOutDropsRevokedPartitionsAndNotesHandedOffsets(t *testing.T) {
	m := testMembership()
	m.part(topicPartition{"t", 1}).revoked = true
	recs := m.handOut(nil, fetches("t", 3, 4))
	var got []int64
	for _, r := range recs {
		got = append(got, r.Offset)
	}
	if want := []int64{0, 1, 2, 3, 200, 201, 202, 203}; !slices.Equal(got, want) {
		t.Fatalf("handed out offsets %v, want %v", got, want)
	}
	for p, want := range map[int32]int64{0: 4, 1: 0, 2: 204} {
		if h := m.part(topicPartition{"t", p}).handed; h != want {
			t.Errorf("partition %d: handed %d, want %d", p, h, want)
		}
	}
}

func TestToCommitTakesTheHighestOffsetOfEachOwnedPartition(t *testing.T) {
	rec := func(topic string, p int32, off int64, epoch int32) Record {
		return Record{Topic: topic, Partition: p, Offset: off, epoch: epoch, consumed: true}
	}
	tests := []struct {
		name    string
		recs    []Record
		revoked []topicPartition
		want    map[topicPartition]kgo.EpochOffset // after the record committed
	}{
		{
			name: "runs of partitions",
			recs: []Record{rec("a", 0, 5, 1), rec("a", 0, 6, 1), rec("a", 1, 9, 1), rec("b", 0, 2, 1), rec("b", 0, 3, 1)},
			want: map[topicPartition]kgo.EpochOffset{{"a", 0}: {Epoch: 1, Offset: 7}, {"a", 1}: {Epoch: 1, Offset: 10}, {"b", 0}: {Epoch: 1, Offset: 4}},
		},
		{
			name: "interleaved partitions",
			recs: []Record{rec("a", 0, 5, 1), rec("a", 1, 9, 1), rec("a", 0, 8, 1), rec("a", 1, 7, 1)},
			want: map[topicPartition]kgo.EpochOffset{{"a", 0}: {Epoch: 1, Offset: 9}, {"a", 1}: {Epoch: 1, Offset: 10}},
		},
		{
			name: "the latest epoch first, as CommitRecords picks",
			recs: []Record{rec("a", 0, 9, 1), rec("a", 0, 4, 2)},
			want: map[topicPartition]kgo.EpochOffset{{"a", 0}: {Epoch: 2, Offset: 5}},
		},
		{
			name:    "revoked partitions and produced records are left out",
			recs:    []Record{rec("a", 0, 5, 1), rec("a", 1, 9, 1), {Topic: "a", Partition: 0, Offset: 50}},
			revoked: []topicPartition{{"a", 1}},
			want:    map[topicPartition]kgo.EpochOffset{{"a", 0}: {Epoch: 1, Offset: 6}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testMembership()
			for _, tp := range tt.revoked {
				m.part(tp).revoked = true
			}
			got := map[topicPartition]kgo.EpochOffset{}
			for _, kr := range m.toCommit(tt.recs) {
				tp := topicPartition{kr.Topic, kr.Partition}
				if _, dup := got[tp]; dup {
					t.Errorf("%v committed twice", tp)
				}
				got[tp] = kgo.EpochOffset{Epoch: kr.LeaderEpoch, Offset: kr.Offset + 1}
			}
			if len(got) != len(tt.want) {
				t.Errorf("committed %v, want %v", got, tt.want)
			}
			for tp, want := range tt.want {
				if got[tp] != want {
					t.Errorf("%v: committed %+v, want %+v", tp, got[tp], want)
				}
				if l := m.part(tp).loaded; l.Offset < want.Offset {
					t.Errorf("%v: loaded %+v, want at least offset %d", tp, l, want.Offset)
				}
			}
		})
	}
}

// A loader's batch: ten thousand records, in runs of one partition.
func BenchmarkHandOutAndCommit(b *testing.B) {
	fs := fetches("in.id.pgload.m.batch.t.load", 2, 5000)
	m := testMembership()
	for b.Loop() {
		m.toCommit(m.handOut(nil, fs))
	}
}

func TestGrow(t *testing.T) {
	withCap := func(n, c int) []Record {
		s := make([]Record, n, c)
		for i := range s {
			s[i].Offset = int64(i)
		}
		return s
	}
	tests := []struct {
		name         string
		s            []Record
		n, limit     int
		wantCap      int
		wantSameBase bool
	}{
		{name: "first poll: exactly its records", s: nil, n: 300, limit: 10000, wantCap: 300},
		{name: "room left: kept", s: withCap(100, 400), n: 300, limit: 10000, wantCap: 400, wantSameBase: true},
		{name: "short of room: doubled", s: withCap(300, 300), n: 200, limit: 10000, wantCap: 600},
		{name: "doubling bounded by the limit", s: withCap(6000, 6000), n: 1000, limit: 4000, wantCap: 10000},
		{name: "more than double: what is needed", s: withCap(100, 100), n: 500, limit: 10000, wantCap: 600},
		{name: "no limit: doubled", s: withCap(300, 300), n: 200, limit: 0, wantCap: 600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := grow(tt.s, tt.n, tt.limit)
			if cap(got) != tt.wantCap || len(got) != len(tt.s) {
				t.Fatalf("len %d cap %d, want len %d cap %d", len(got), cap(got), len(tt.s), tt.wantCap)
			}
			for i := range got {
				if got[i].Offset != int64(i) {
					t.Fatalf("record %d has offset %d after growing", i, got[i].Offset)
				}
			}
			if same := len(tt.s) > 0 && &got[0] == &tt.s[0]; same != tt.wantSameBase {
				t.Fatalf("same backing array %v, want %v", same, tt.wantSameBase)
			}
		})
	}
}
