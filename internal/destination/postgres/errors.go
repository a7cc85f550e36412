package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/streamforge/streamforge/internal/destination"
)

// dataCodes are SQLSTATEs caused by the rows themselves, beyond the whole
// classes 22 (data exception) and 23 (integrity constraint violation):
// retrying the same rows cannot succeed.
var dataCodes = map[string]bool{
	"42804": true, // datatype_mismatch
	"42846": true, // cannot_coerce
	"54000": true, // program_limit_exceeded (index row too large)
	"54011": true, // too_many_columns
}

// isDataError reports whether a server error blames the data.
func isDataError(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	code := pgErr.Code
	return len(code) == 5 && (code[:2] == "22" || code[:2] == "23" || dataCodes[code])
}

// classify wraps err with the operation and marks data errors with
// destination.ErrData. Every other error is an outage, retried by bulker;
// one that shows the server unreachable or refusing bulker (connection
// refused, timeouts, 28P01 bad password, 28000, 3D000 missing database)
// also names where bulker connected — never the password.
func (d *DB) classify(op string, err error) error {
	if isDataError(err) {
		return fmt.Errorf("%s: %w: %w", op, destination.ErrData, err)
	}
	if unreachable(err) {
		return fmt.Errorf("%s: %s unavailable: %w", op, d.where, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// unreachable reports whether err says the server cannot be used at all.
func unreachable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		class := pgErr.Code[:2]
		// 08 connection exception, 28 invalid authorization, 3D invalid
		// catalog name, 57 operator intervention (shutdown, cannot connect now)
		return class == "08" || class == "28" || class == "3D" || class == "57"
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connErr) || errors.As(err, &netErr) || pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF)
}

// locked runs fn in a transaction holding an advisory lock on key, so that
// bulker processes sharing a database do not race on the same DDL
// (concurrent CREATE TABLE IF NOT EXISTS can fail on pg_type's unique index).
func (d *DB) locked(ctx context.Context, key string, fn func(pgx.Tx) error) error {
	h := fnv.New64a()
	h.Write([]byte("streamforge ddl\x00" + d.schema + "\x00" + key))
	return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(h.Sum64())); err != nil {
			return err
		}
		return fn(tx)
	})
}
