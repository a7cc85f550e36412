package control_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamforge/streamforge/internal/control"
)

func TestEventWireFormat(t *testing.T) {
	ts := 1718000000.5
	base := control.Event{QueueID: "q1", Symbol: "BTCUSDT", Type: "dummy", Producer: "dummy-1", SentAt: 1718000001.25}
	pong := base
	pong.Event, pong.PingTS, pong.PongedAt = control.EventPong, &ts, 1718000001.25
	loading := base
	loading.Event, loading.Status, loading.Message, loading.RecordsWritten = control.EventLoading, control.EventLoading, "loading batch 3", 300
	loading.TimeRange, loading.KafkaTopic = "2024-01-01:2024-01-02", "btc-trades"
	failed := base
	failed.Event, failed.Status, failed.Message, failed.ErrorMessage = control.EventError, control.EventError, "failing as asked", "fail-after 5s elapsed"
	finished := base
	finished.Event, finished.Status, finished.Finished = control.EventFinished, control.EventFinished, true

	for name, ev := range map[string]control.Event{"pong": pong, "loading": loading, "error": failed, "finished": finished} {
		got, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join("testdata", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != strings.TrimSpace(string(want)) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
		back, err := control.DecodeEvent(got)
		if err != nil {
			t.Fatal(err)
		}
		if back.Event != ev.Event || back.RecordsWritten != ev.RecordsWritten || back.ErrorMessage != ev.ErrorMessage ||
			(ev.PingTS != nil && (back.PingTS == nil || *back.PingTS != *ev.PingTS)) {
			t.Errorf("%s: decoded %+v, want %+v", name, back, ev)
		}
	}
}

func TestTerminalEvents(t *testing.T) {
	for _, e := range control.EventNames() {
		want := e == control.EventInterrupted || e == control.EventFinished || e == control.EventError
		if control.IsTerminal(e) != want {
			t.Errorf("IsTerminal(%s) = %v", e, !want)
		}
	}
}
