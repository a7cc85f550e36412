package destination

import (
	"context"
	"time"
)

// QueueStatus summarises one queue of a table loaded from dummy-service's
// queue-events topic: its last status, its progress and its pings.
type QueueStatus struct {
	QueueID        string     `json:"queueId"`
	LastStatus     string     `json:"lastStatus,omitempty"`
	RecordsWritten *int64     `json:"recordsWritten,omitempty"`
	Pongs          int64      `json:"pongs"`
	PingMsAvg      *float64   `json:"pingMsAvg,omitempty"`
	PingMsMax      *float64   `json:"pingMsMax,omitempty"`
	LastPong       *time.Time `json:"lastPong,omitempty"`
	LastEvent      *time.Time `json:"lastEvent,omitempty"`
}

// QueueReporter is a Driver that can summarise such a table. It is
// optional: the query is the database's own SQL, so a driver that does not
// implement it leaves the console's queue view unsupported.
type QueueReporter interface {
	// Queues returns one entry per queue, by queue id; none while the table
	// does not exist.
	Queues(ctx context.Context, table string) ([]QueueStatus, error)
}
