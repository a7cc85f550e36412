package main

import (
	"database/sql"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamforge/streamforge/internal/wait"
)

// jitsuDB is a database holding tables as Jitsu Bulker made them.
type jitsuDB struct {
	name   string  // destination type
	db     *sql.DB // connected to the destination's schema or database
	creds  string  // the destination's credentials JSON
	schema string  // PostgreSQL schema or MySQL database
	// create makes a table as Jitsu makes it for jitsuEvent, with its
	// primary key on messageId when pk.
	create func(t testing.TB, table string, pk bool)
	// quoted is the table's name in SQL.
	quoted func(table string) string
	// values reads the row of messageId as text, one column per
	// jitsuColumns entry.
	values func(t testing.TB, table, messageID string) []string
	// columns lists the table's columns.
	columns func(t testing.TB, table string) []string
	// tables lists the schema's tables.
	tables func(t testing.TB) []string
}

// jitsuColumnBang is the column Jitsu names for the key "!!": nothing
// of it is a letter or digit, so "column_" and the key's MD5.
const jitsuColumnBang = "column_ef9fcdb53e4e10b12bfcd5e9e78135dc"

// jitsuColumns are the columns of the Jitsu table in the order values
// reads them.
var jitsuColumns = []string{"_timestamp", "messageId", "type", "userId", "context_ip", "context_page_url",
	"properties_price", "properties_qty", "properties_isNew", "properties_tags", "properties_items", "_unnamed", jitsuColumnBang,
	"utm-source", "Page Title"}

// jitsuEvent is an event in the shape Jitsu's pipeline sends to Bulker:
// camelCase keys, nested objects, arrays, an empty key, one with no
// letters, and keys with a dash or a space, which Jitsu keeps in names.
func jitsuEvent(id string, userID int, price string) string {
	return fmt.Sprintf(`{"_timestamp":"2024-05-01T10:00:00.123456Z","messageId":%q,"type":"track","userId":%d,`+
		`"context":{"ip":"10.0.0.1","page":{"url":"https://example.com/?a=1"}},`+
		`"properties":{"price":%s,"qty":3,"isNew":true,"tags":["a","b"],"items":[{"sku":"s1","n":2}]},"":"empty key","!!":"bangs","utm-source":"google","Page Title":"Home"}`,
		id, userID, price)
}

// jitsuWant is what values returns for jitsuEvent(id, userID, price).
func jitsuWant(d string, id string, userID int, price string) []string {
	tsText, boolText, items := "2024-05-01 10:00:00.123456", "true", `[{"n": 2, "sku": "s1"}]`
	if d == "mysql" {
		boolText, items = "1", `[{"sku":"s1","n":2}]` // MariaDB keeps JSON as sent
	}
	return []string{tsText, id, "track", fmt.Sprint(userID), "10.0.0.1", "https://example.com/?a=1",
		price, "3", boolText, `["a","b"]`, items, "empty key", "bangs", "google", "Home"}
}

// postgresJitsu creates, in a new schema, the table Jitsu Bulker makes for
// jitsuEvent: quoted names as the keys flatten, case kept; Jitsu's types.
// The array of tags is in a text column (as a table made by hand or by an
// older Jitsu holds it), the array of items in jsonb (as Jitsu makes it).
func postgresJitsu(t *testing.T) jitsuDB {
	pg, u := postgresServer(t)
	schema := randomName("e2e_jitsu_")
	t.Cleanup(func() { pg.Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE") })
	if _, err := pg.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	quoted := func(table string) string { return fmt.Sprintf("%s.%q", schema, table) }
	return jitsuDB{
		name: "postgres", db: pg, schema: schema, quoted: quoted,
		creds: pgCredentials(u, strings.TrimPrefix(u.Path, "/"), schema),
		create: func(t testing.TB, table string, pk bool) {
			ddl := fmt.Sprintf(`CREATE TABLE %s (
  "_timestamp" timestamp with time zone, "messageId" text NOT NULL, "type" text, "userId" bigint,
  "context_ip" text, "context_page_url" text, "properties_price" double precision, "properties_qty" bigint,
  "properties_isNew" boolean, "properties_tags" text, "properties_items" jsonb, "_unnamed" text, %q text, "utm-source" text, "Page Title" text`, quoted(table), jitsuColumnBang)
			if pk {
				ddl += fmt.Sprintf(`, CONSTRAINT %q PRIMARY KEY ("messageId")`, table+"_pk")
			}
			if _, err := pg.Exec(ddl + ")"); err != nil {
				t.Fatal(err)
			}
		},
		values: func(t testing.TB, table, id string) []string {
			cols := make([]string, len(jitsuColumns))
			for i, c := range jitsuColumns {
				cols[i] = fmt.Sprintf("%q::text", c)
			}
			cols[0] = `to_char("_timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')`
			rows := queryRowsOr(pg, "SELECT "+strings.Join(cols, ", ")+" FROM "+quoted(table)+` WHERE "messageId" = '`+id+"'")
			if len(rows) != 1 {
				return nil
			}
			return rows[0]
		},
		tables: func(t testing.TB) []string {
			return column(queryRows(t, pg, "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1", schema))
		},
		columns: func(t testing.TB, table string) []string {
			return column(queryRows(t, pg, "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position", schema, table))
		},
	}
}

// mysqlJitsu creates, in a new database, the table Jitsu Bulker makes on
// MySQL: backquoted names, case kept, Jitsu's MySQL types.
func mysqlJitsu(t *testing.T) jitsuDB {
	dsn := os.Getenv("STREAMFORGE_TEST_MYSQL")
	if dsn == "" {
		dsn = "root@tcp(127.0.0.1:3306)/test"
	}
	admin, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if err := admin.Ping(); err != nil {
		t.Fatalf("MariaDB unreachable (STREAMFORGE_TEST_MYSQL): %v", err)
	}
	dbName := randomName("e2e_jitsu_")
	if _, err := admin.Exec("CREATE DATABASE " + dbName + " CHARACTER SET utf8mb4"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec("DROP DATABASE IF EXISTS " + dbName) })
	db, err := sql.Open("mysql", strings.Replace(dsn, "/test", "/"+dbName, 1)+"?loc=UTC&time_zone=%27%2B00%3A00%27")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	user, hostPort := "root", "127.0.0.1:3306"
	if at := strings.Index(dsn, "@tcp("); at >= 0 {
		user = strings.SplitN(dsn[:at], ":", 2)[0]
		hostPort = dsn[at+5 : strings.Index(dsn, ")")]
	}
	host, port, _ := strings.Cut(hostPort, ":")
	quoted := func(table string) string { return "`" + table + "`" }
	return jitsuDB{
		name: "mysql", db: db, schema: dbName, quoted: quoted,
		creds: fmt.Sprintf(`{"host":%q,"port":%s,"database":%q,"username":%q}`, host, port, dbName, user),
		create: func(t testing.TB, table string, pk bool) {
			ddl := "CREATE TABLE " + quoted(table) + " (`_timestamp` timestamp(6) NULL, `messageId` varchar(255) NOT NULL, `type` text, `userId` bigint, " +
				"`context_ip` text, `context_page_url` text, `properties_price` double, `properties_qty` bigint, " +
				"`properties_isNew` boolean, `properties_tags` text, `properties_items` JSON, `_unnamed` text, `" + jitsuColumnBang + "` text, " +
				"`utm-source` text, `Page Title` text"
			if pk {
				ddl += ", PRIMARY KEY (`messageId`)"
			}
			if _, err := db.Exec(ddl + ")"); err != nil {
				t.Fatal(err)
			}
		},
		values: func(t testing.TB, table, id string) []string {
			cols := make([]string, len(jitsuColumns))
			for i, c := range jitsuColumns {
				cols[i] = "CAST(`" + c + "` AS CHAR)"
			}
			cols[0] = "DATE_FORMAT(`_timestamp`, '%Y-%m-%d %H:%i:%s.%f')"
			rows := queryRowsOr(db, "SELECT "+strings.Join(cols, ", ")+" FROM "+quoted(table)+" WHERE `messageId` = '"+id+"'")
			if len(rows) != 1 {
				return nil
			}
			return rows[0]
		},
		tables: func(t testing.TB) []string {
			return column(queryRows(t, db, "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY 1", dbName))
		},
		columns: func(t testing.TB, table string) []string {
			return column(queryRows(t, db, "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position", dbName, table))
		},
	}
}

// checkJitsuRow waits for the row of id and checks every value is in the
// column Jitsu made for it.
func checkJitsuRow(t *testing.T, j jitsuDB, table, id string, want []string) {
	t.Helper()
	var got []string
	deadline := time.Now().Add(30 * time.Second)
	for got = j.values(t, table, id); !slices.Equal(got, want); got = j.values(t, table, id) {
		if time.Now().After(deadline) {
			t.Fatalf("row %s in %s:\n got %q\nwant %q\ntables: %v", id, j.quoted(table), got, want, j.tables(t))
		}
		time.Sleep(wait.Interval)
	}
}

// Tables Jitsu Bulker made take Jitsu-shaped events into their own
// columns: camelCase kept, nested keys flattened with "_", arrays as JSON
// text in a text column, Jitsu's _unnamed and hashed names, Jitsu's types
// and its primary key, and the table's name with its case. No column or
// table is added.
func TestLoadsIntoJitsuTables(t *testing.T) {
	for _, open := range []func(*testing.T) jitsuDB{postgresJitsu, mysqlJitsu} {
		j := open(t)
		t.Run(j.name, func(t *testing.T) {
			j.create(t, "Events", true)
			before := j.columns(t, "Events")
			dest := fmt.Sprintf(`BULKER_DESTINATION_JT={"type":%q,"options":{"mode":"batch","frequency":0.01,"primaryKey":"messageId","deduplicate":true,"timestampColumn":"_timestamp"},"credentials":%s}`,
				j.name, j.creds)
			b, _ := secureBulker(t, dest)
			t.Cleanup(func() {
				if t.Failed() {
					t.Log(b.output())
				}
			})
			b.mustPost("jt", "Events", jitsuEvent("m1", 42, "9.5"), apiToken)
			b.mustPost("jt", "Events", jitsuEvent("m2", 43, "10"), apiToken)
			checkJitsuRow(t, j, "Events", "m1", jitsuWant(j.name, "m1", 42, "9.5"))
			checkJitsuRow(t, j, "Events", "m2", jitsuWant(j.name, "m2", 43, "10"))
			// The primary key Jitsu made deduplicates.
			b.mustPost("jt", "Events", jitsuEvent("m1", 44, "1.25"), apiToken)
			checkJitsuRow(t, j, "Events", "m1", jitsuWant(j.name, "m1", 44, "1.25"))
			if after := j.columns(t, "Events"); !slices.Equal(before, after) {
				t.Errorf("columns changed:\n was %v\n now %v", before, after)
			}
			if n := count(j.db, j.quoted("Events")); n != 2 {
				t.Errorf("%d rows in Events, want 2", n)
			}
			if tables := j.tables(t); !slices.Equal(slices.Sorted(slices.Values(tables)), []string{"Events", "_streamforge_columns"}) {
				t.Errorf("tables %v, want Jitsu's and bulker's record of keys only", tables)
			}
		})
	}
}

// column returns the first column of rows.
func column(rows [][]string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r[0]
	}
	return out
}
