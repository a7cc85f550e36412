package control

import "encoding/json"

// Event names on queue-events.
const (
	EventStarted     = "started"
	EventPong        = "pong"
	EventLoading     = "loading"
	EventInterrupted = "interrupted"
	EventFinished    = "finished"
	EventError       = "error"
)

// Statuses lists the status events, the label values of a service's
// status gauge.
func Statuses() []string {
	return []string{EventStarted, EventLoading, EventInterrupted, EventFinished, EventError}
}

// EventNames lists every event a service publishes.
func EventNames() []string {
	return []string{EventStarted, EventPong, EventLoading, EventInterrupted, EventFinished, EventError}
}

// IsTerminal reports whether event ends a run: every run ends with exactly
// one of these.
func IsTerminal(event string) bool {
	return event == EventInterrupted || event == EventFinished || event == EventError
}

// Event is one record of queue-events. Which fields go on the wire depends
// on the event: a pong carries ping_ts and ponged_at, a status event
// (started, loading, interrupted, finished, error) carries status, message,
// finished, records_written, time_range, kafka_topic and k8s_namespace, and
// an error adds error_message.
type Event struct {
	Event    string  `json:"event"`
	QueueID  string  `json:"queue_id"`
	Symbol   string  `json:"symbol"`
	Type     string  `json:"type"`
	Producer string  `json:"producer"`
	SentAt   float64 `json:"sent_at"`

	PingTS   *float64 `json:"ping_ts,omitempty"`
	PongedAt float64  `json:"ponged_at,omitempty"`

	Status         string `json:"status,omitempty"`
	Message        string `json:"message,omitempty"`
	Finished       bool   `json:"finished,omitempty"`
	RecordsWritten int64  `json:"records_written,omitempty"`
	TimeRange      string `json:"time_range,omitempty"`
	KafkaTopic     string `json:"kafka_topic,omitempty"`
	K8sNamespace   string `json:"k8s_namespace,omitempty"`
	ErrorMessage   string `json:"error_message,omitempty"`
}

type wireBase struct {
	Event    string  `json:"event"`
	QueueID  string  `json:"queue_id"`
	Symbol   string  `json:"symbol"`
	Type     string  `json:"type"`
	Producer string  `json:"producer"`
	SentAt   float64 `json:"sent_at"`
}

type wirePong struct {
	wireBase
	// PingTS is null when the ping carried no sent_at.
	PingTS   *float64 `json:"ping_ts"`
	PongedAt float64  `json:"ponged_at"`
}

type wireStatus struct {
	wireBase
	Status         string `json:"status"`
	Message        string `json:"message"`
	Finished       bool   `json:"finished"`
	RecordsWritten int64  `json:"records_written"`
	TimeRange      string `json:"time_range"`
	KafkaTopic     string `json:"kafka_topic"`
	K8sNamespace   string `json:"k8s_namespace"`
	ErrorMessage   string `json:"error_message,omitempty"`
}

// MarshalJSON writes the fields of the event's kind, all of them even when
// empty, so consumers always find the keys they expect.
func (e Event) MarshalJSON() ([]byte, error) {
	base := wireBase{Event: e.Event, QueueID: e.QueueID, Symbol: e.Symbol, Type: e.Type, Producer: e.Producer, SentAt: e.SentAt}
	if e.Event == EventPong {
		return json.Marshal(wirePong{wireBase: base, PingTS: e.PingTS, PongedAt: e.PongedAt})
	}
	return json.Marshal(wireStatus{
		wireBase: base, Status: e.Status, Message: e.Message, Finished: e.Finished,
		RecordsWritten: e.RecordsWritten, TimeRange: e.TimeRange, KafkaTopic: e.KafkaTopic,
		K8sNamespace: e.K8sNamespace, ErrorMessage: e.ErrorMessage,
	})
}

// DecodeEvent reads one queue-events record.
func DecodeEvent(b []byte) (Event, error) {
	var e Event
	err := json.Unmarshal(b, &e)
	return e, err
}
