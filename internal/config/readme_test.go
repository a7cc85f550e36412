package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the README's configuration table from the variables")

const (
	readmeBegin = "<!-- bulker-config:begin (generated from internal/config/variables.go: go test ./internal/config -update) -->"
	readmeEnd   = "<!-- bulker-config:end -->"
)

// The README's configuration table is the variables table: every variable
// bulker reads is documented, with its real default, and nothing else.
func TestREADMEConfigTable(t *testing.T) {
	path := filepath.Join("..", "..", "README.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	begin, end := strings.Index(readme, readmeBegin), strings.Index(readme, readmeEnd)
	if begin < 0 || end < begin {
		t.Fatalf("README.md lacks the markers %q … %q around the bulker configuration table", readmeBegin, readmeEnd)
	}
	want := "\n| variable | default | meaning |\n|---|---|---|\n" + strings.Join(Documented(), "\n") + "\n"
	got := readme[begin+len(readmeBegin) : end]
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(readme[:begin+len(readmeBegin)]+want+readme[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's configuration table differs from internal/config/variables.go; run go test ./internal/config -update\n got:%s\nwant:%s", got, want)
}

// Every variable Load reads is known to Unknown, and the other way round.
func TestVariablesAreKnown(t *testing.T) {
	var environ []string
	for _, v := range variables {
		environ = append(environ, v.name+"=x")
	}
	if u := Unknown(environ); len(u) != 0 {
		t.Errorf("documented variables reported unknown: %v", u)
	}
	seen := map[string]bool{}
	for _, v := range variables {
		if seen[v.name] {
			t.Errorf("%s is in the table twice", v.name)
		}
		seen[v.name] = true
		if v.doc == "" {
			t.Errorf("%s has no documentation", v.name)
		}
		for _, n := range append([]string{v.name}, v.aliases...) {
			if jitsuIgnored(n) {
				t.Errorf("%s is read, yet named among Jitsu's ignored variables", n)
			}
		}
	}
}
