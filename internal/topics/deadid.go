package topics

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/streamforge/streamforge/internal/kafka"
)

// Replayed is the topic where each replay of a dead-letter record leaves a
// marker keyed by its DeadID, so that it is not re-queued twice: the key
// keeps the markers of an id in one partition, and the first one wins.
func Replayed(prefix string) string { return prefix + "destination-messages-replayed" }

// earlierMark starts the ids of records of the EarlierDead topic.
const earlierMark = "old:"

// DeadID names a dead-letter record for GET /failed and its replay:
// "<partition>:<offset>" in the Dead topic, "old:<partition>:<offset>" in
// the EarlierDead one. The offset makes the id stable and unique for as
// long as the record is kept.
func DeadID(prefix string, r kafka.Record) string {
	id := strconv.FormatInt(int64(r.Partition), 10) + ":" + strconv.FormatInt(r.Offset, 10)
	if r.Topic == EarlierDead(prefix) {
		return earlierMark + id
	}
	return id
}

// ParseDeadID reverses DeadID.
func ParseDeadID(prefix, id string) (topic string, partition int32, offset int64, err error) {
	topic = Dead(prefix)
	rest := id
	if r, ok := strings.CutPrefix(id, earlierMark); ok {
		topic, rest = EarlierDead(prefix), r
	}
	ps, os, ok := strings.Cut(rest, ":")
	p, perr := strconv.ParseInt(ps, 10, 32)
	o, oerr := strconv.ParseInt(os, 10, 64)
	if !ok || perr != nil || oerr != nil || p < 0 || o < 0 {
		return "", 0, 0, fmt.Errorf("id %q: want <partition>:<offset> as GET /failed shows it", id)
	}
	return topic, int32(p), o, nil
}
