package deploy_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// envDoc is the set of environment variables the README documents for a
// program: exact names and name prefixes (BULKER_DESTINATION_<ID>,
// ARANGO_*). The README is the contract these deploy files are checked
// against, so a variable given to a program that the README does not
// document fails.
type envDoc struct {
	names    map[string]bool
	prefixes []string
}

func (d envDoc) has(name string) bool {
	if d.names[name] {
		return true
	}
	for _, p := range d.prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

var (
	backticked = regexp.MustCompile("`([A-Z][A-Z0-9_]*(?:<ID>|\\*)?)`")
	envMention = regexp.MustCompile("env `([A-Z][A-Z0-9_]*)`")
)

// cells splits a Markdown table row at the pipes that are not escaped:
// "| a | b\|c |" → "", " a ", " b\|c ", "".
func cells(row string) []string {
	var out []string
	start := 0
	for i := 0; i < len(row); i++ {
		if row[i] == '|' && (i == 0 || row[i-1] != '\\') {
			out = append(out, row[start:i])
			start = i + 1
		}
	}
	return append(out, row[start:])
}

// readmeSection returns the lines of the README from the heading to the
// next heading of the same or a higher level.
func readmeSection(t *testing.T, heading string) []string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	level := strings.Index(heading, " ")
	var out []string
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		if l == heading {
			in = true
			continue
		}
		if in && strings.HasPrefix(l, "#") {
			if n := strings.Index(l, " "); n > 0 && n <= level && strings.Trim(l[:n], "#") == "" {
				break
			}
		}
		if in {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		t.Fatalf("README has no section %q", heading)
	}
	return out
}

// documentedEnv collects the variables named in the first column of the
// sections' tables, and those a flag's description names as "env `X`".
func documentedEnv(t *testing.T, headings ...string) envDoc {
	t.Helper()
	d := envDoc{names: map[string]bool{}}
	for _, h := range headings {
		for _, l := range readmeSection(t, h) {
			if !strings.HasPrefix(l, "| ") {
				continue
			}
			c := cells(l)
			if len(c) < 3 {
				continue
			}
			names := backticked.FindAllStringSubmatch(c[1], -1)
			for _, m := range envMention.FindAllStringSubmatch(l, -1) {
				names = append(names, m)
			}
			for _, m := range names {
				switch n := m[1]; {
				case strings.HasSuffix(n, "<ID>"):
					d.prefixes = append(d.prefixes, strings.TrimSuffix(n, "<ID>"))
				case strings.HasSuffix(n, "*"):
					d.prefixes = append(d.prefixes, strings.TrimSuffix(n, "*"))
				default:
					d.names[n] = true
				}
			}
		}
	}
	return d
}

func bulkerEnvDoc(t *testing.T) envDoc {
	return documentedEnv(t, "### Configuration")
}

func dummyEnvDoc(t *testing.T) envDoc {
	return documentedEnv(t, "### dummy-service flags and environment", "### Kafka settings of dummy-service and debug-producer")
}

// The parsers above are only as good as what they find: the README's
// tables must yield the variables everyone knows are there.
func TestREADMEDocumentsTheVariables(t *testing.T) {
	b := bulkerEnvDoc(t)
	for _, n := range []string{"BULKER_HTTP_PORT", "BULKER_KAFKA_BOOTSTRAP_SERVERS", "BULKER_KAFKA_SSL_CA_FILE", "BULKER_REDIS_URL", "BULKER_RAW_AUTH_TOKENS", "BULKER_DESTINATION_PG"} {
		if !b.has(n) {
			t.Errorf("bulker's configuration table lacks %s", n)
		}
	}
	for _, n := range []string{"BULKER_HTTP_PROT", "KAFKA_BOOTSTRAP_SERVERS", "QUEUE_ID"} {
		if b.has(n) {
			t.Errorf("%s counted as a bulker variable", n)
		}
	}
	d := dummyEnvDoc(t)
	for _, n := range []string{"QUEUE_ID", "SYMBOL", "TIME_RANGE", "TYPE", "QUEUE_CONTROL_TOPIC", "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_PASSWORD", "KAFKA_CA_PATH", "METRICS_ADDR", "LOADING_INTERVAL", "ARANGO_URL"} {
		if !d.has(n) {
			t.Errorf("dummy-service's tables lack %s", n)
		}
	}
	for _, n := range []string{"BULKER_HTTP_PORT", "SASL_SSL", "KAFKA_TOPICS"} {
		if d.has(n) {
			t.Errorf("%s counted as a dummy-service variable", n)
		}
	}
}
