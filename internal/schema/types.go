// Package schema is the destination-agnostic core of bulker's loading: it
// flattens JSON events into columns, infers and widens column types, applies
// type hints, sanitises identifiers for a dialect and reconciles a batch with
// the table as stored. It does no I/O.
package schema

// DataType is a column's logical type. Destinations map it to SQL types.
type DataType uint8

// Logical types, ordered so that the scalar widening lattice
// Bool → Int → Float → Text follows the numeric order.
const (
	Null      DataType = iota // only nulls seen so far: no type yet
	Bool                      // Go value: bool
	Int                       // Go value: int64
	Float                     // Go value: float64
	Timestamp                 // Go value: time.Time in UTC
	Text                      // Go value: string
	JSON                      // Go value: json.RawMessage (valid JSON)
)

var typeNames = [...]string{"null", "bool", "int", "float", "timestamp", "text", "json"}

func (t DataType) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "unknown"
}

// Column is one column of a table.
type Column struct {
	Name string // as stored: already sanitised for the dialect
	Type DataType
	// SQLType is an explicit SQL type, from a type hint or read back from
	// the database; empty means the dialect's default for Type.
	SQLType string
	// Key is the event key (see KeyPath) whose values the column holds,
	// as the destination records it; empty for a column no key owns yet,
	// such as one made by another tool.
	Key string
}

// Table is a table's shape.
type Table struct {
	Name            string
	Columns         []Column
	PrimaryKey      []string // column names
	TimestampColumn string   // indexed / sort key, optional
}

// Column returns the column with the given name.
func (t Table) Column(name string) (Column, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// Batch is rows ready for a destination: every row has one value per column
// of Table, already cast to the column's type, SQL NULL, or Absent.
type Batch struct {
	Table Table
	Rows  [][]Value
}

// Dialect holds the identifier rules of a destination.
type Dialect struct {
	Name string
	// MaxIdentLen is the longest identifier, in bytes when LenInBytes
	// (PostgreSQL's 63) or else in characters (MySQL's 64).
	MaxIdentLen int
	LenInBytes  bool
	// Lowercase folds identifiers to lower case, as unquoted names are in
	// PostgreSQL, so users can query them without quotes.
	Lowercase bool
	// FoldsNames: the database compares column names without case, as
	// MySQL and SQLite do.
	FoldsNames bool
	// MaxColumns is the hard column limit of a table; wider events put the
	// overflow into UnmappedColumn.
	MaxColumns int
	// MaxRowBytes bounds the sum of TypeBytes over a table's columns, so
	// that any row fits the database's row size limit; 0: no limit.
	MaxRowBytes int
	// TypeBytes is, by logical type, the most a column takes in a row once
	// the database has moved large values out of it (PostgreSQL's TOAST,
	// InnoDB's off-page columns).
	TypeBytes [JSON + 1]int
}

// UnmappedColumn holds, as a JSON object, the values that could not be
// stored in their own column (type conflict, column limit).
const UnmappedColumn = "_unmapped_data"
