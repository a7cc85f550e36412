package schema

import "testing"

// benchEvent is a typical web event: a dozen fields, a timestamp, nested
// objects and an array.
const benchEvent = `{"event_id":"e0f8c1a2-5b3d-4c1e-9f7a-2d6b8e4c1a90","type":"page","timestamp":"2024-05-17T12:34:56.789Z",` +
	`"user":{"id":123456789,"anonymous_id":"a-42","traits":{"plan":"pro","age":37}},` +
	`"context":{"ip":"203.0.113.7","page":{"url":"https://example.com/docs?q=1","title":"Docs"},"locale":"en-US"},` +
	`"properties":{"price":19.99,"quantity":2,"in_stock":true,"tags":["a","b"]},"session_ms":1843}`

func BenchmarkParse(b *testing.B) {
	raw := []byte(benchEvent)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParser(b *testing.B) {
	raw := []byte(benchEvent)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	var p Parser
	for b.Loop() {
		if _, err := p.Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuild(b *testing.B) {
	// Parsed one by one, as in a batch: no two events share their strings.
	events := make([]Event, 100)
	for i := range events {
		var err error
		if events[i], err = Parse([]byte(benchEvent)); err != nil {
			b.Fatal(err)
		}
	}
	stored, _, _ := Build(postgres, "events", TableOptions{}, events[:1], nil)
	b.ReportAllocs()
	for b.Loop() {
		Build(postgres, "events", TableOptions{}, events, &stored)
	}
}
