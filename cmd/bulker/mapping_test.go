package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/wait"
)

// Nothing an event holds changes silently on its way into PostgreSQL: each
// key keeps one column of its own across batches and restarts, keys that
// flatten alike stay apart, refused type hints are told, timestamps keep
// their instant, and a very wide event lands within the table's limits
// with one log line about its overflow.
func TestPostgresKeysKeepTheirColumns(t *testing.T) {
	pg, u := postgresServer(t)
	schema := randomName("e2e_map_")
	t.Cleanup(func() { pg.Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE") })
	creds := pgCredentials(u, strings.TrimPrefix(u.Path, "/"), schema)
	dest := `BULKER_DESTINATION_PG={"type":"postgres","options":{"mode":"batch","frequency":0.01},"credentials":` + creds + `}`
	b, _ := secureBulker(t, dest)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(b.output())
		}
	})
	table := schema + ".keys"
	post := func(p *proc, want int, events ...string) {
		t.Helper()
		for _, e := range events {
			p.mustPost("pg", "keys", e, apiToken)
		}
		wait.For(t, 30*time.Second, fmt.Sprintf("%d rows in %s", want, table), func() bool { return count(pg, table) == want })
	}

	// The three batches of issue 10, with a restart before the last.
	post(b, 1, `{"id":1,"A":"upper","a":"lower"}`)
	post(b, 2, `{"id":2,"a":"lower2"}`)
	b.stop(syscall.SIGTERM)
	b = start(t, b.env...)
	post(b, 3, `{"id":4,"a":"lower4","A":"upper4"}`)
	// Three keys that flatten to a_b, then each alone.
	post(b, 4, `{"id":5,"a_b":"u","a":{"b":"n"},"a.b":"d"}`)
	post(b, 7, `{"id":6,"a":{"b":"n6"}}`, `{"id":7,"a.b":"d7"}`, `{"id":8,"a_b":"u8"}`)

	rows := queryRows(t, pg, "SELECT id, a, a_c40bf6cc, a_b, a_b_1b0504b1, a_b_108bf50c FROM "+table+" ORDER BY id")
	want := [][]string{
		{"1", "lower", "upper", "NULL", "NULL", "NULL"},
		{"2", "lower2", "NULL", "NULL", "NULL", "NULL"},
		{"4", "lower4", "upper4", "NULL", "NULL", "NULL"},
		{"5", "NULL", "NULL", "u", "n", "d"},
		{"6", "NULL", "NULL", "NULL", "n6", "NULL"},
		{"7", "NULL", "NULL", "NULL", "NULL", "d7"},
		{"8", "NULL", "NULL", "u8", "NULL", "NULL"},
	}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("rows:\n got %v\nwant %v", rows, want)
	}
	owners := queryRows(t, pg, "SELECT column_name, event_key FROM "+schema+"._streamforge_columns WHERE table_name = 'keys' ORDER BY column_name")
	if fmt.Sprint(owners) != `[[a ["a"]] [a_b ["a_b"]] [a_b_108bf50c ["a.b"]] [a_b_1b0504b1 ["a","b"]] [a_c40bf6cc ["A"]] [id ["id"]]]` {
		t.Errorf("recorded keys: %v", owners)
	}

	// Hints as Jitsu writes them; a refused one is told once, in /events.
	post(b, 8, `{"id":9,"__sql_type_code":["varchar(4)","varchar(4)"],"code":"abcd","__sql_type_n":"nosuchtype","n":5}`)
	post(b, 9, `{"id":10,"__sql_type_n":"nosuchtype","n":6,"code":"x"}`)
	cols := map[string]string{}
	for _, r := range queryRows(t, pg, "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'keys'", schema) {
		cols[r[0]] = r[1]
	}
	if cols["code"] != "character varying" || cols["n"] != "bigint" {
		t.Errorf("code is %q, n is %q; want the hinted varchar and the values' bigint", cols["code"], cols["n"])
	}
	for c := range cols {
		if strings.Contains(c, "sql_type") {
			t.Errorf("a hint key became column %s", c)
		}
	}
	warnings := b.events("?status=warning&destination=pg", apiToken)
	if len(warnings) != 1 || !strings.Contains(warnings[0].Error, "nosuchtype") {
		t.Errorf("warnings in /events: %+v, want the refused hint once", warnings)
	}

	// Rounding would carry this into 2025.
	post(b, 10, `{"id":11,"at":"2024-12-31T23:59:59.9999999Z"}`)
	if at := queryRows(t, pg, "SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM "+table+" WHERE id = 11"); at[0][0] != "2024-12-31 23:59:59.999999" {
		t.Errorf("at = %s, want 2024-12-31 23:59:59.999999", at[0][0])
	}

	// A very wide event: the table stays within PostgreSQL's limits, the
	// overflow goes to _unmapped_data, and the log says so once.
	var wide strings.Builder
	wide.WriteString(`{"id":12`)
	for i := range 20000 {
		fmt.Fprintf(&wide, `,"f%05d":%d`, i, i)
	}
	wide.WriteString("}")
	before := len(b.output())
	b.mustPost("pg", "wide", wide.String(), apiToken)
	wait.For(t, 60*time.Second, "the wide event loaded", func() bool { return count(pg, schema+".wide") == 1 })
	var ncols int
	if err := pg.QueryRow("SELECT count(*) FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'wide'", schema).Scan(&ncols); err != nil || ncols > 1600 || ncols < 900 {
		t.Errorf("wide table has %d columns (%v), want within PostgreSQL's limits and filled", ncols, err)
	}
	var overflow int
	if err := pg.QueryRow("SELECT count(*) FROM " + schema + ".wide, jsonb_object_keys(_unmapped_data)").Scan(&overflow); err != nil || overflow+ncols-1 != 20001 {
		t.Errorf("%d values in _unmapped_data and %d columns (%v): some of the 20,001 fields are missing", overflow, ncols, err)
	}
	logs := b.output()[before:]
	if n := strings.Count(logs, "values kept in _unmapped_data"); n != 1 || len(logs) > 64<<10 {
		t.Errorf("%d log lines about _unmapped_data, %d bytes of log for one wide event", n, len(logs))
	}
}
