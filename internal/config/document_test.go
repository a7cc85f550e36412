package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseDocument: any input either fails with an error or yields valid
// destinations with unique ids; it never panics.
func FuzzParseDocument(f *testing.F) {
	files, _ := filepath.Glob("testdata/*")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`[{"id":"a","type":"x"}]`))
	f.Add([]byte("destinations: [ {id: a, type: x} ]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := ParseDocument(b)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, c := range cs {
			if err := c.Validate(); err != nil {
				t.Fatalf("returned an invalid destination %+v: %v", c, err)
			}
			if seen[c.ID] {
				t.Fatalf("duplicate id %s", c.ID)
			}
			seen[c.ID] = true
		}
	})
}
