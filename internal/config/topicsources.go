package config

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/loader"
)

// SourceEnvPrefix starts the variables that each hold one source: a Kafka
// topic of JSON records loaded into a destination table.
const SourceEnvPrefix = "BULKER_SOURCE_"

// sourceJSON is a source as configured.
type sourceJSON struct {
	ID          string `json:"id"`
	Topic       string `json:"topic"`
	Destination string `json:"destination"`
	Table       string `json:"table"`
	Mode        string `json:"mode"`
	Group       string `json:"group"`
}

// ParseSource reads one source's JSON; id is used when the JSON has none.
// Unknown keys are refused: a misspelt "tabel" would load nowhere.
func ParseSource(data []byte, id string) (loader.Source, error) {
	var j sourceJSON
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&j); err != nil {
		return loader.Source{}, fmt.Errorf("source %s: %w", id, err)
	}
	if j.ID == "" {
		j.ID = id
	}
	return loader.Source{ID: j.ID, Topic: j.Topic, Destination: j.Destination, Table: j.Table,
		Mode: destination.DeliveryMode(j.Mode), Group: j.Group}, nil
}

// envSources reads the BULKER_SOURCE_<ID> variables; the id is <ID>
// lower-cased unless the JSON has one.
func envSources(environ []string) ([]loader.Source, error) {
	var out []loader.Source
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		id, ok := strings.CutPrefix(k, SourceEnvPrefix)
		if !ok || strings.TrimSpace(v) == "" {
			continue
		}
		s, err := ParseSource([]byte(v), strings.ToLower(id))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// ParseDocumentSources reads the "sources" of a configuration document
// (see ParseDocument): a list of sources with ids, or a map by id. A
// document that is a bare list of destinations has none.
func ParseDocumentSources(data []byte) ([]loader.Source, error) {
	doc, err := decodeDocument(data)
	if err != nil {
		return nil, err
	}
	top, _ := doc.(map[string]any)
	sources := top["sources"]
	var out []loader.Source
	add := func(v any, id, where string) error {
		raw, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		s, err := ParseSource(raw, id)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if id != "" && s.ID != id {
			return fmt.Errorf("%s: source %s: id %q differs from its key", where, id, s.ID)
		}
		out = append(out, s)
		return nil
	}
	switch d := sources.(type) {
	case nil:
	case []any:
		for i, v := range d {
			if err := add(v, "", fmt.Sprintf("sources[%d]", i)); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		for _, id := range slices.Sorted(maps.Keys(d)) {
			if err := add(d[id], id, "sources"); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("sources: want a list or a map by id, got %T", sources)
	}
	return out, nil
}

// document is a Source whose document lists sources beside destinations:
// one read yields both, so that they come from one version of it.
type document interface {
	Document(ctx context.Context) ([]destination.Config, []loader.Source, error)
}

// parseDocument reads both parts of a document from where.
func parseDocument(data []byte, where string) ([]destination.Config, []loader.Source, error) {
	cs, err := ParseDocument(data)
	if err != nil {
		return nil, nil, fmt.Errorf("destinations from %s: %w", where, err)
	}
	ss, err := ParseDocumentSources(data)
	if err != nil {
		return nil, nil, fmt.Errorf("sources from %s: %w", where, err)
	}
	return withOrigin(cs, where), ss, nil
}

// Read reads every source once: the destinations (an id in two sources
// is an error) and the topic sources — BULKER_SOURCE_* variables, then
// the "sources" of a file or http(s) document, whose ids and consumer
// groups must be unique.
func (s *Sources) Read(ctx context.Context) ([]destination.Config, []loader.Source, error) {
	var cs []destination.Config
	out, err := envSources(s.environ)
	if err != nil {
		return nil, nil, err
	}
	for _, src := range s.list {
		if d, ok := src.(document); ok {
			dcs, dss, err := d.Document(ctx)
			if err != nil {
				return nil, nil, err
			}
			cs, out = append(cs, dcs...), append(out, dss...)
			continue
		}
		dcs, err := src.Destinations(ctx)
		if err != nil {
			return nil, nil, err
		}
		cs = append(cs, dcs...)
	}
	if err := unique(cs); err != nil {
		return nil, nil, err
	}
	ids, groups := map[string]bool{}, map[string]string{}
	for _, src := range out {
		if ids[src.ID] {
			return nil, nil, fmt.Errorf("source %s is defined twice", src.ID)
		}
		ids[src.ID] = true
		// Two sources in one group would share the topic's partitions, each
		// loading a part of it.
		if other, ok := groups[src.GroupName()]; ok {
			return nil, nil, fmt.Errorf("sources %s and %s use the same consumer group %s", other, src.ID, src.GroupName())
		}
		groups[src.GroupName()] = src.ID
	}
	return cs, out, nil
}
