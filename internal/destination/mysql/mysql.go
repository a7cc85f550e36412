// Package mysql is bulker's MySQL and MariaDB destination
// (github.com/go-sql-driver/mysql), tested on MariaDB.
package mysql

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/schema"
)

const (
	defaultPort = 3306
	dialTimeout = 10 * time.Second
)

// DB is one MySQL or MariaDB database.
type DB struct {
	db  *sql.DB
	log *slog.Logger
	// where names the server for error messages, never with the password.
	where string

	metaMu    sync.Mutex
	metaReady bool // destination.ColumnsTable exists
}

var _ destination.Driver = (*DB)(nil)

// Open is New as a destination.Factory.
func Open(ctx context.Context, c destination.Config, log *slog.Logger) (destination.Driver, error) {
	return New(ctx, c, log)
}

// New prepares a connection pool to the database of c.Credentials. It does
// not connect: a server that is down at start-up only fails the first
// call that needs it, which bulker retries, so events wait in Kafka.
func New(ctx context.Context, c destination.Config, log *slog.Logger) (*DB, error) {
	cfg, err := driverConfig(c)
	if err != nil {
		return nil, fmt.Errorf("destination %s: %w", c.ID, err)
	}
	log = log.With("destination", c.ID, "driver", "mysql")
	cfg.Logger = driverLogger{log}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("destination %s: %w", c.ID, err)
	}
	d := &DB{
		db:    sql.OpenDB(conn),
		log:   log,
		where: fmt.Sprintf("mysql at %s, database %s, user %s", cfg.Addr, cfg.DBName, cfg.User),
	}
	d.db.SetMaxOpenConns(8)
	d.db.SetMaxIdleConns(4)
	// Below the server's default wait_timeout, so idle connections are not
	// found dead.
	d.db.SetConnMaxLifetime(5 * time.Minute)
	return d, nil
}

// driverConfig builds the driver's configuration; c.Credentials.Parameters
// are DSN parameters, except those bulker depends on, which it sets last.
func driverConfig(c destination.Config) (*mysql.Config, error) {
	cr := c.Credentials
	if cr.Host == "" {
		return nil, errors.New("credentials.host is required")
	}
	if cr.Database == "" {
		return nil, errors.New("credentials.database is required")
	}
	port := cr.Port
	if port == 0 {
		port = defaultPort
	}
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = net.JoinHostPort(cr.Host, strconv.Itoa(port))
	cfg.DBName = cr.Database
	cfg.User = cr.Username
	cfg.Timeout = dialTimeout
	if len(cr.Parameters) > 0 {
		q := url.Values{}
		for k, v := range cr.Parameters {
			q.Set(k, v)
		}
		parsed, err := mysql.ParseDSN("/?" + q.Encode())
		if err != nil {
			return nil, fmt.Errorf("credentials.parameters: %w", err)
		}
		parsed.Net, parsed.Addr, parsed.DBName, parsed.User = cfg.Net, cfg.Addr, cfg.DBName, cfg.User
		if _, ok := cr.Parameters["timeout"]; !ok {
			parsed.Timeout = dialTimeout
		}
		cfg = parsed
	}
	if err := applySSLMode(cfg, cr); err != nil {
		return nil, err
	}
	cfg.Passwd = cr.Password.Reveal()
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	// One round trip per statement instead of prepare, execute, close.
	cfg.InterpolateParams = true
	if err := cfg.Apply(mysql.Charset("utf8mb4", "utf8mb4_bin")); err != nil {
		return nil, err
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	// Strict mode for every engine: a value a column cannot hold is an
	// error, never a silent truncation.
	cfg.Params["sql_mode"] = "CONCAT_WS(',', NULLIF(@@sql_mode, ''), 'STRICT_ALL_TABLES')"
	return cfg, nil
}

// applySSLMode sets the driver's TLS as Jitsu's credentials.sslMode says,
// with libpq's meaning: require encrypts without checking the server's
// certificate, verify-ca checks it against the system's roots, verify-full
// checks its host name too.
func applySSLMode(cfg *mysql.Config, cr destination.Credentials) error {
	if cr.SSLMode == "" {
		return nil
	}
	if _, ok := cr.Parameters["tls"]; ok {
		return fmt.Errorf("credentials.sslMode and credentials.parameters.tls both set: keep one")
	}
	switch cr.SSLMode {
	case "disable":
		cfg.TLS, cfg.TLSConfig = nil, "false"
	case "prefer":
		cfg.TLS, cfg.TLSConfig = nil, "preferred"
	case "require":
		cfg.TLS, cfg.TLSConfig = nil, "skip-verify"
	case "verify-ca":
		cfg.TLS = &tls.Config{
			// The chain is checked below; only the host name is not.
			InsecureSkipVerify: true,
			VerifyConnection:   verifyChain,
		}
	case "verify-full":
		cfg.TLS = &tls.Config{ServerName: cr.Host}
	default:
		return fmt.Errorf("credentials.sslMode %q is not supported", cr.SSLMode)
	}
	return nil
}

// verifyChain checks the server's certificate chain against the system's
// roots, whatever host name it is for.
func verifyChain(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the server sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Intermediates: inter})
	return err
}

// driverLogger sends the driver's own messages (broken connections, mostly)
// to slog instead of stderr.
type driverLogger struct{ log *slog.Logger }

func (l driverLogger) Print(v ...any) { l.log.Warn(fmt.Sprint(v...)) }

// SQL returns the underlying pool, for tests and read-back.
func (d *DB) SQL() *sql.DB { return d.db }

// Ping checks that the server answers and the credentials work.
func (d *DB) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout+5*time.Second)
	defer cancel()
	return d.classify(d.db.PingContext(ctx))
}

// dialect holds MySQL's rules. It compares column names without case and
// table names by file name, so bulker keeps both in lower case. A row must
// fit InnoDB's in-page limit of 8,126 bytes: a text or JSON value keeps up
// to 40 bytes in the page before it moves off-page (so 1,000 LONGTEXT
// columns fail at CREATE TABLE), a DATETIME(6) takes 8; the budget leaves
// room for the row's header. InnoDB allows 1,017 columns.
var dialect = schema.Dialect{
	Name: "mysql", MaxIdentLen: 64, Lowercase: true, FoldsNames: true,
	MaxColumns: 1017, MaxRowBytes: 7600,
	TypeBytes: [...]int{
		schema.Null: 42, schema.Bool: 1, schema.Int: 8, schema.Float: 8,
		schema.Timestamp: 8, schema.Text: 42, schema.JSON: 42,
	},
}

// Dialect implements destination.Driver.
func (d *DB) Dialect() schema.Dialect { return dialect }

// Close implements destination.Driver.
func (d *DB) Close() error { return d.db.Close() }

// dataErrors are server errors caused by the rows themselves.
var dataErrors = map[uint16]bool{
	1048: true, // column cannot be null
	1062: true, // duplicate entry
	1074: true, // column length too big (type hint)
	1118: true, // row size too large
	1264: true, // out of range value
	1265: true, // data truncated
	1292: true, // incorrect datetime value
	1300: true, // invalid character string
	1366: true, // incorrect value for column
	1367: true, // illegal value
	1406: true, // data too long
	1690: true, // value out of range
	3140: true, // invalid JSON text (MySQL)
	3819: true, // check constraint violated (MySQL)
	4025: true, // CHECK constraint failed (MariaDB's JSON check)
}

// classify marks data errors with destination.ErrData and names the server
// in every other error, which bulker treats as an outage.
func (d *DB) classify(err error) error {
	if err == nil || errors.Is(err, destination.ErrData) {
		return err
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) && dataErrors[me.Number] || errors.Is(err, mysql.ErrPktTooLarge) {
		return fmt.Errorf("%w (%w)", err, destination.ErrData)
	}
	return fmt.Errorf("%s: %w", d.where, err)
}
