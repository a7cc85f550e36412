package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/streamforge/streamforge/internal/destination"
)

var _ destination.QueueReporter = (*DB)(nil)

// Queues implements destination.QueueReporter with the query the README
// shows. A column exists only once a value filled it (ping_ts with the
// first pong, say), so a missing one is read as NULL instead of failing
// the query.
func (d *DB) Queues(ctx context.Context, table string) ([]destination.QueueStatus, error) {
	t, ok, err := d.Describe(ctx, table)
	if err != nil || !ok {
		return nil, err
	}
	if _, ok := t.Column("queue_id"); !ok {
		return nil, nil
	}
	col := func(name, typ string) string {
		if _, ok := t.Column(name); ok {
			return pgx.Identifier{name}.Sanitize() + "::" + typ
		}
		return "NULL::" + typ
	}
	status, written := col("status", "text"), col("records_written", "bigint")
	sent, pingTS, ponged := col("sent_at", "double precision"), col("ping_ts", "double precision"), col("ponged_at", "double precision")
	q := fmt.Sprintf(`SELECT queue_id::text,
       (array_agg(%[1]s ORDER BY %[3]s DESC NULLS LAST) FILTER (WHERE %[1]s IS NOT NULL))[1],
       max(%[2]s), count(%[5]s),
       round((avg(%[5]s - %[4]s) * 1000)::numeric)::double precision,
       round((max(%[5]s - %[4]s) * 1000)::numeric)::double precision,
       to_timestamp(max(%[5]s)), to_timestamp(max(%[3]s))
FROM %[6]s WHERE queue_id IS NOT NULL
GROUP BY queue_id ORDER BY queue_id`, status, written, sent, pingTS, ponged, d.ident(table))
	rows, err := d.pool.Query(ctx, q)
	if err != nil {
		return nil, d.classify("summarising queues in "+d.ident(table), err)
	}
	var out []destination.QueueStatus
	for rows.Next() {
		var s destination.QueueStatus
		var last *string
		var lastPong, lastEvent *time.Time
		if err := rows.Scan(&s.QueueID, &last, &s.RecordsWritten, &s.Pongs, &s.PingMsAvg, &s.PingMsMax, &lastPong, &lastEvent); err != nil {
			rows.Close()
			return nil, d.classify("reading queues of "+d.ident(table), err)
		}
		if last != nil {
			s.LastStatus = *last
		}
		s.LastPong, s.LastEvent = utc(lastPong), utc(lastEvent)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, d.classify("reading queues of "+d.ident(table), err)
	}
	return out, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
