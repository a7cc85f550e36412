// Package sqlitetest opens SQLite destinations for the tests of the
// packages that write through one.
package sqlitetest

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/destination/sqlite"
)

// Open opens a SQLite destination "lite" in a temporary directory, closed
// when the test ends.
func Open(t testing.TB) *sqlite.DB {
	t.Helper()
	c := destination.Config{ID: "lite", Type: "sqlite", Credentials: destination.Credentials{Database: filepath.Join(t.TempDir(), "lite.db")}}
	db, err := sqlite.New(context.Background(), c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
