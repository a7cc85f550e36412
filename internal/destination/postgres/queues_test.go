package postgres

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
)

// The queue summary of the README reads a table loaded from queue-events.
// Its columns appear with the first value that fills them, so a table
// without pongs (no ping_ts, ponged_at) or without status events still
// gives an answer; no table gives none.
func TestQueues(t *testing.T) {
	env := newTestEnv(t)
	d := env.open(t)
	ctx := context.Background()
	tests := []struct {
		name, create, insert string
		want                 string // fmt of each queue's fields
	}{
		{
			name:   "every column",
			create: `queue_id text, status text, records_written bigint, sent_at double precision, ping_ts double precision, ponged_at double precision`,
			insert: `('q1','started',0,100,NULL,NULL), ('q1','loading',1300,110,NULL,NULL), ('q1',NULL,NULL,112,111.9,112.0), ('q2','error',0,105,NULL,NULL)`,
			want:   `[q1 loading 1300 1 100 100 true true] [q2 error 0 0 <nil> <nil> false true]`,
		},
		{
			name:   "no pong yet",
			create: `queue_id text, status text, records_written bigint, sent_at bigint`,
			insert: `('q1','started',0,100), ('q1','finished',200,130)`,
			want:   `[q1 finished 200 0 <nil> <nil> false true]`,
		},
		{
			name:   "pongs only",
			create: `queue_id text, sent_at double precision, ping_ts double precision, ponged_at double precision`,
			insert: `('q3',10,9.75,10)`,
			want:   `[q3  <nil> 1 250 250 true true]`,
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			table := fmt.Sprintf("queue_events_%d", i)
			ident := pgx.Identifier{env.schema, table}.Sanitize()
			if _, err := env.db.Exec("CREATE TABLE " + ident + " (" + tc.create + ")"); err != nil {
				t.Fatal(err)
			}
			if _, err := env.db.Exec("INSERT INTO " + ident + " VALUES " + tc.insert); err != nil {
				t.Fatal(err)
			}
			qs, err := d.Queues(ctx, table)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for j, q := range qs {
				if j > 0 {
					got += " "
				}
				var written any
				if q.RecordsWritten != nil {
					written = *q.RecordsWritten
				}
				ms := func(p *float64) any {
					if p == nil {
						return nil
					}
					return *p
				}
				got += fmt.Sprint([]any{q.QueueID, q.LastStatus, written, q.Pongs, ms(q.PingMsAvg), ms(q.PingMsMax), q.LastPong != nil, q.LastEvent != nil})
			}
			if got != tc.want {
				t.Errorf("queues\n got %s\nwant %s", got, tc.want)
			}
		})
	}
	if qs, err := d.Queues(ctx, "no_such_table"); err != nil || qs != nil {
		t.Errorf("a missing table: %v, %v; want nothing", qs, err)
	}
}
