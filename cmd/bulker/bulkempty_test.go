package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// POST /bulk with no event leaves the table or partition as it was, unless
// the caller asks with allowEmpty=true to empty it.
func TestBulkEmptyBodyKeepsData(t *testing.T) {
	pg, u := postgresServer(t)
	schema := randomName("e2e_")
	t.Cleanup(func() { pg.Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE") })
	b := start(t, "BULKER_DATA_DIR="+t.TempDir(), "BULKER_EMBEDDED_KAFKA_ADDR="+freeAddr(t),
		`BULKER_DESTINATION_PG={"type":"postgres","credentials":`+pgCredentials(u, strings.TrimPrefix(u.Path, "/"), schema)+`}`)
	bulk := func(query, body string) (int, string) {
		return b.do("POST", "/bulk/pg?"+query, body, "")
	}
	rows := func(table string) string {
		return fmt.Sprint(queryRows(t, pg, "SELECT day, n FROM "+schema+"."+table+" ORDER BY day, n"))
	}
	const full = "[[d1 1] [d2 2]]"
	for _, table := range []string{"whole", "parts"} {
		for _, day := range []string{"d1", "d2"} {
			if code, resp := bulk("tableName="+table+"&mode=replace_partition&partition="+day, fmt.Sprintf("{\"day\":%q,\"n\":%s}\n", day, day[1:])); code != http.StatusOK {
				t.Fatalf("filling %s: %d %s", table, code, resp)
			}
		}
	}
	for _, c := range []struct {
		name, table, query, body string
	}{
		{"empty replace_table", "whole", "mode=replace_table", ""},
		{"blank replace_table", "whole", "mode=replace_table", "\n  \r\n\n"},
		{"empty replace_partition", "parts", "mode=replace_partition&partition=d1", ""},
		{"blank replace_partition", "parts", "mode=replace_partition&partition=d1&allowEmpty=false", "\n\n"},
		{"invalid lines only", "whole", "mode=replace_table&allowEmpty=true", "not json\n"},
	} {
		code, resp := bulk("tableName="+c.table+"&"+c.query, c.body)
		if code != http.StatusBadRequest || !strings.Contains(resp, `"success":false`) {
			t.Errorf("%s: %d %s, want 400", c.name, code, resp)
		}
		if c.body == "" && !strings.Contains(resp, "allowEmpty=true") {
			t.Errorf("%s: %s does not say how to empty it", c.name, resp)
		}
		if got := rows(c.table); got != full {
			t.Errorf("%s changed the table: %s", c.name, got)
		}
	}

	if code, resp := bulk("tableName=parts&mode=replace_partition&partition=d1&allowEmpty=true", ""); code != http.StatusOK || !strings.Contains(resp, `"count":0`) {
		t.Fatalf("emptying a partition on purpose: %d %s", code, resp)
	}
	if got := rows("parts"); got != "[[d2 2]]" {
		t.Errorf("after emptying partition d1: %s", got)
	}
	if code, resp := bulk("tableName=whole&mode=replace_table&allowEmpty=true", ""); code != http.StatusOK || !strings.Contains(resp, `"count":0`) {
		t.Fatalf("emptying a table on purpose: %d %s", code, resp)
	}
	// Emptied, the table keeps its columns: queries that name them work.
	if got := rows("whole"); got != "[]" {
		t.Errorf("after emptying the table on purpose: %s", got)
	}
	if code, resp := bulk("tableName=never_made&mode=replace_table&allowEmpty=true", ""); code != http.StatusOK {
		t.Errorf("emptying a table that does not exist: %d %s", code, resp)
	}
}
