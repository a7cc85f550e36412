package deploy_test

// The Grafana dashboards and Prometheus alert rules of deploy/grafana and
// deploy/prometheus, checked without running anything but promtool;
// live_test.go checks them against the running programs.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

// The files Compose and the Helm chart provision.
var (
	dashboardPaths = []string{"grafana/dashboards/bulker.json", "grafana/dashboards/dummy-service.json"}
	alertsFile     = "prometheus/alerts.yml"
	alertTestsFile = "prometheus/alerts_test.yml"
	runbookFile    = "prometheus/RUNBOOK.md"
)

// runbookBase is where a runbook_url must point: RUNBOOK.md in the
// repository of this module.
const runbookBase = "https://github.com/streamforge/streamforge/blob/main/deploy/prometheus/RUNBOOK.md#"

// datasourceUID is the datasource of every panel and variable: a template
// variable, so the dashboards work with whatever Prometheus a Grafana has.
const datasourceUID = "${datasource}"

// dashboard is the part of Grafana's dashboard model the tests read.
type dashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Datasource *datasourceRef  `json:"datasource"`
	IncludeAll bool            `json:"includeAll"`
	AllValue   string          `json:"allValue"`
}

type panel struct {
	ID          int            `json:"id"`
	Type        string         `json:"type"`
	Title       string         `json:"title"`
	Datasource  *datasourceRef `json:"datasource"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Targets []target `json:"targets"`
	Panels  []panel  `json:"panels"` // of a collapsed row
}

type target struct {
	RefID      string         `json:"refId"`
	Expr       string         `json:"expr"`
	Datasource *datasourceRef `json:"datasource"`
}

// query is one PromQL expression of a dashboard, named as a user finds it.
type query struct {
	where string // "bulker.json: Rows loaded (A)"
	panel string
	expr  string
}

func loadDashboard(t *testing.T, file string) dashboard {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s is not a valid dashboard JSON: %v", file, err)
	}
	return d
}

// panelsOf flattens rows: a collapsed row keeps its panels inside it.
func panelsOf(d dashboard) []panel {
	var out []panel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

func queriesOf(file string, d dashboard) []query {
	var qs []query
	for _, p := range panelsOf(d) {
		for _, tg := range p.Targets {
			qs = append(qs, query{where: fmt.Sprintf("%s: %s (%s)", filepath.Base(file), p.Title, tg.RefID), panel: p.Title, expr: tg.Expr})
		}
	}
	return qs
}

// labelValues is a query variable's query, label_values(selector, label).
var labelValues = regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

// variableQuery returns a query variable's selector and label.
func variableQuery(t *testing.T, v variable) (selector, label string) {
	t.Helper()
	var q struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(v.Query, &q); err != nil {
		t.Fatalf("variable %s: query is not {\"query\": …}: %v", v.Name, err)
	}
	m := labelValues.FindStringSubmatch(q.Query)
	if m == nil {
		t.Fatalf("variable %s: query %q is not label_values(selector, label)", v.Name, q.Query)
	}
	return m[1], m[2]
}

// grafanaVariable matches $name and ${name}, the forms the dashboards use.
var grafanaVariable = regexp.MustCompile(`\$\{(\w+)\}|\$(\w+)`)

// expand substitutes every variable of expr from values, as Grafana does
// before it sends a query; a variable without a value is an error.
func expand(expr string, values map[string]string) (string, error) {
	var missing []string
	out := grafanaVariable.ReplaceAllStringFunc(expr, func(m string) string {
		name := strings.Trim(m, "${}")
		v, ok := values[name]
		if !ok {
			missing = append(missing, m)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("undefined variables %v", missing)
	}
	return out, nil
}

// variableValues are the values a query is expanded with: builtin ones
// from builtins, and the match-all value of each query variable.
func variableValues(d dashboard, builtins map[string]string) map[string]string {
	values := map[string]string{}
	for k, v := range builtins {
		values[k] = v
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			values[v.Name] = v.AllValue
		}
	}
	return values
}

// promQL parses as the Prometheus the test runs does: no experimental
// functions.
var promQL = parser.NewParser(parser.Options{})

// metricNames returns the metric names an expression selects.
func metricNames(t *testing.T, where, expr string) []string {
	t.Helper()
	e, err := promQL.ParseExpr(expr)
	if err != nil {
		t.Fatalf("%s: %q does not parse: %v", where, expr, err)
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			if vs.Name == "" {
				t.Errorf("%s: a selector without a metric name: %s", where, vs)
			}
			names = append(names, vs.Name)
		}
		return nil
	})
	return names
}

// staticBuiltins stand for Grafana's own variables when no Prometheus runs.
var staticBuiltins = map[string]string{"__rate_interval": "1m", "__interval": "30s", "__range": "1h"}

// knownUnits are the Grafana unit ids the dashboards may use; custom
// units are "suffix:<text>".
var knownUnits = []string{"none", "short", "s", "ms", "reqps", "ops", "cps", "percentunit", "bytes"}

func TestDashboardsAreValid(t *testing.T) {
	uids := map[string]string{}
	for _, file := range dashboardPaths {
		t.Run(filepath.Base(file), func(t *testing.T) {
			d := loadDashboard(t, file)
			if d.UID == "" || d.Title == "" {
				t.Errorf("uid %q, title %q: both are needed to provision the dashboard", d.UID, d.Title)
			}
			if other, dup := uids[d.UID]; dup {
				t.Errorf("uid %q is also %s's", d.UID, other)
			}
			uids[d.UID] = file
			// Grafana 12's models start at 41; older ones are migrated on load.
			if d.SchemaVersion < 41 {
				t.Errorf("schemaVersion %d, want a current one (>= 41)", d.SchemaVersion)
			}

			vars := map[string]variable{}
			for _, v := range d.Templating.List {
				vars[v.Name] = v
			}
			if ds, ok := vars["datasource"]; !ok || ds.Type != "datasource" || string(ds.Query) != `"prometheus"` {
				t.Errorf("want a datasource variable of type prometheus, got %+v", ds)
			}
			values := variableValues(d, staticBuiltins)
			used := map[string]bool{}
			for _, v := range d.Templating.List {
				if v.Type != "query" {
					continue
				}
				if v.Datasource == nil || v.Datasource.UID != datasourceUID {
					t.Errorf("variable %s: datasource %+v, want uid %s", v.Name, v.Datasource, datasourceUID)
				}
				if !v.IncludeAll || v.AllValue != ".*" {
					t.Errorf("variable %s: want an All option matching everything (allValue .*)", v.Name)
				}
				sel, _ := variableQuery(t, v)
				expanded, err := expand(sel, values)
				if err != nil {
					t.Errorf("variable %s: %v", v.Name, err)
					continue
				}
				metricNames(t, "variable "+v.Name, expanded)
				for _, m := range grafanaVariable.FindAllStringSubmatch(sel, -1) {
					used[m[1]+m[2]] = true
				}
			}

			titles := map[string]bool{}
			for _, p := range panelsOf(d) {
				if p.Type == "row" {
					continue
				}
				if p.Title == "" || titles[p.Title] {
					t.Errorf("panel %d: title %q is empty or repeated", p.ID, p.Title)
				}
				titles[p.Title] = true
				if u := p.FieldConfig.Defaults.Unit; !slices.Contains(knownUnits, u) && !strings.HasPrefix(u, "suffix:") {
					t.Errorf("%s: unit %q, want one of %v or suffix:<text>", p.Title, u, knownUnits)
				}
				if p.Datasource == nil || p.Datasource.UID != datasourceUID {
					t.Errorf("%s: datasource %+v, want uid %s", p.Title, p.Datasource, datasourceUID)
				}
				if len(p.Targets) == 0 {
					t.Errorf("%s: no query", p.Title)
				}
				for _, tg := range p.Targets {
					if tg.Datasource == nil || tg.Datasource.UID != datasourceUID {
						t.Errorf("%s (%s): datasource %+v, want uid %s", p.Title, tg.RefID, tg.Datasource, datasourceUID)
					}
				}
			}
			for _, q := range queriesOf(file, d) {
				expanded, err := expand(q.expr, values)
				if err != nil {
					t.Errorf("%s: %v", q.where, err)
					continue
				}
				metricNames(t, q.where, expanded)
				for _, m := range grafanaVariable.FindAllStringSubmatch(q.expr, -1) {
					used[m[1]+m[2]] = true
				}
			}
			for name, v := range vars {
				if v.Type == "query" && !used[name] {
					t.Errorf("variable %s is used by no query", name)
				}
			}
		})
	}
}

// ruleFile is the part of a Prometheus rule file the tests read.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func loadRules(t *testing.T) []rule {
	t.Helper()
	b, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	var rules []rule
	for _, g := range f.Groups {
		rules = append(rules, g.Rules...)
	}
	if len(rules) == 0 {
		t.Fatalf("%s holds no rule", alertsFile)
	}
	return rules
}

// promtool returns the path of promtool, which Debian's prometheus package
// installs (scripts/test-services.sh does).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: install Debian's prometheus package (scripts/test-services.sh does)")
	}
	return p
}

// TestAlertRules checks the rule file with promtool and runs its unit
// tests, in which every alert fires once and a healthy hour fires none.
func TestAlertRules(t *testing.T) {
	bin := promtool(t)
	for _, args := range [][]string{{"check", "rules", filepath.Base(alertsFile)}, {"test", "rules", filepath.Base(alertTestsFile)}} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = filepath.Dir(alertsFile)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// Every alert says what happened, why it matters and where the runbook
// section is; and its unit tests show it both firing and quiet.
func TestAlertsAreDocumentedAndTested(t *testing.T) {
	rules := loadRules(t)
	anchors := runbookAnchors(t)
	fires, quiet := alertTestCases(t)
	seen := map[string]bool{}
	for _, r := range rules {
		if r.Alert == "" {
			t.Errorf("rule %q is not an alert", r.Expr)
			continue
		}
		if seen[r.Alert] {
			t.Errorf("%s: defined twice", r.Alert)
		}
		seen[r.Alert] = true
		metricNames(t, r.Alert, r.Expr)
		if s := r.Labels["severity"]; s != "critical" && s != "warning" {
			t.Errorf("%s: severity %q, want critical or warning", r.Alert, s)
		}
		for _, k := range []string{"summary", "description", "runbook_url"} {
			if strings.TrimSpace(r.Annotations[k]) == "" {
				t.Errorf("%s: no %s", r.Alert, k)
			}
		}
		anchor, ok := strings.CutPrefix(r.Annotations["runbook_url"], runbookBase)
		if !ok || !anchors[anchor] {
			t.Errorf("%s: runbook_url %q is not a section of %s (%s…)", r.Alert, r.Annotations["runbook_url"], runbookFile, runbookBase)
		}
		if !fires[r.Alert] {
			t.Errorf("%s: no case of %s where it fires", r.Alert, alertTestsFile)
		}
		if !quiet[r.Alert] {
			t.Errorf("%s: no case of %s where it stays quiet", r.Alert, alertTestsFile)
		}
	}
}

// runbookAnchors returns the anchors GitHub gives RUNBOOK.md's headings.
func runbookAnchors(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open(runbookFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	anchors := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if h, ok := strings.CutPrefix(sc.Text(), "## "); ok {
			anchors[githubAnchor(h)] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return anchors
}

// githubAnchor is GitHub's anchor of a heading: lower case, spaces to
// hyphens, punctuation other than hyphens and underscores dropped.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || ('a' <= r && r <= 'z') || ('0' <= r && r <= '9'):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// alertTestCases returns the alerts that alerts_test.yml expects to fire
// at some evaluation, and those it expects quiet at some other.
func alertTestCases(t *testing.T) (fires, quiet map[string]bool) {
	t.Helper()
	b, err := os.ReadFile(alertTestsFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", alertTestsFile, err)
	}
	fires, quiet = map[string]bool{}, map[string]bool{}
	for _, tc := range f.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	return fires, quiet
}
