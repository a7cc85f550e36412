package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/streamforge/streamforge/internal/destination"
)

// ParseDocument reads the destinations of a configuration document — what
// a file://, http(s):// source holds. JSON is accepted too (it is YAML).
// Two shapes:
//
//	destinations:            # Jitsu Bulker's shape: a map by id
//	  pg:
//	    type: postgres
//	    options: {mode: batch}
//
//	- id: pg                 # or a list (top-level or under destinations:)
//	  type: postgres
//
// A map entry's key is its id; an "id" inside must then match it. A map
// value may also be a JSON string holding the destination. A top-level
// "sources" key lists Kafka topics to load (see ParseDocumentSources).
func ParseDocument(data []byte) ([]destination.Config, error) {
	doc, err := decodeDocument(data)
	if err != nil {
		return nil, err
	}
	if top, ok := doc.(map[string]any); ok {
		d, ok := top["destinations"]
		_, sources := top["sources"]
		if !ok && !sources {
			return nil, errors.New(`want a list of destinations or a "destinations" key`)
		}
		doc = d
	}
	var out []destination.Config
	switch d := doc.(type) {
	case nil:
		return nil, nil
	case []any:
		for i, v := range d {
			c, err := parseOne(v, "")
			if err != nil {
				return nil, fmt.Errorf("destinations[%d]: %w", i, err)
			}
			out = append(out, c)
		}
	case map[string]any:
		for _, id := range slices.Sorted(maps.Keys(d)) {
			c, err := parseOne(d[id], id)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	default:
		return nil, fmt.Errorf("destinations: want a list or a map by id, got %T", doc)
	}
	return out, unique(out)
}

// decodeDocument parses a YAML or JSON document.
func decodeDocument(data []byte) (any, error) {
	var doc any
	if jsonLike(data) {
		// JSON is YAML, but JSON indented with tabs is not; and json.Number
		// keeps numbers as written.
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		if err := d.Decode(&doc); err != nil {
			return nil, fmt.Errorf("parsing JSON: %w", err)
		}
	} else if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parsing YAML: %w", err)
	}
	return doc, nil
}

func parseOne(v any, id string) (destination.Config, error) {
	var raw []byte
	switch v := v.(type) {
	case string:
		raw = []byte(v)
	case map[string]any:
		var err error
		if raw, err = json.Marshal(v); err != nil {
			return destination.Config{}, fmt.Errorf("destination %s: %w", id, err)
		}
	default:
		return destination.Config{}, fmt.Errorf("destination %s: want an object, got %T", id, v)
	}
	c, err := destination.ParseJSON(raw, id)
	if err != nil {
		return c, err
	}
	if id != "" && c.ID != id {
		return c, fmt.Errorf("destination %s: id %q differs from its key", id, c.ID)
	}
	return c, nil
}

func unique(cs []destination.Config) error {
	seen := make(map[string]bool, len(cs))
	for _, c := range cs {
		if seen[c.ID] {
			return fmt.Errorf("destination %s is defined twice", c.ID)
		}
		seen[c.ID] = true
	}
	return nil
}

// jsonLike reports whether data looks like JSON rather than YAML.
func jsonLike(data []byte) bool {
	t := bytes.TrimSpace(data)
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}
