package deploy_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/streamforge/streamforge/internal/config"
	"github.com/streamforge/streamforge/internal/destination"
	"github.com/streamforge/streamforge/internal/dummy"
)

// The Compose stack cannot be started here (no Docker engine), so its file
// is parsed as Compose would read it — with the variables of .env.example
// substituted — and checked for what running it depends on.

const composeDir = "compose"

type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]*struct{}      `yaml:"volumes"`
}

// composeService holds the keys the stack uses; decoding fails on any
// other, so a misspelt key (depends-on, healthchek) is caught.
type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context string            `yaml:"context"`
		Target  string            `yaml:"target"`
		Args    map[string]string `yaml:"args"`
	} `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	Profiles    []string          `yaml:"profiles"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test        []string `yaml:"test"`
		Interval    string   `yaml:"interval"`
		Timeout     string   `yaml:"timeout"`
		Retries     int      `yaml:"retries"`
		StartPeriod string   `yaml:"start_period"`
	} `yaml:"healthcheck"`
	Restart string `yaml:"restart"`
}

// noHealthcheck lists the long-running services that cannot have a
// health check, and why.
var noHealthcheck = map[string]string{
	"loki": "its image is distroless: no shell or HTTP client to run a probe with",
}

// ownPrograms maps the services built from this repository's Dockerfile to
// the port their health check and metrics use.
var ownPrograms = map[string]string{"bulker": "3042", "dummy-service": "8000", "debug-producer": ""}

func decodeStrict(t *testing.T, name string, b []byte, v any) {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// envExample reads compose/.env.example.
func envExample(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(composeDir, ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf(".env.example: %q is not KEY=value", l)
		}
		env[k] = v
	}
	return env
}

var varRef = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)((:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// varUse is one ${…} in the Compose file.
type varUse struct {
	name, op string // op: "", ":-", "-", ":?", "?"
}

// interpolate substitutes variables as Compose does: ${X}, ${X:-default},
// ${X-default}, ${X:?error}, ${X?error}, $X, and $$ for a literal $.
func interpolate(s string, env map[string]string) (string, []varUse, error) {
	var uses []varUse
	var err error
	out := varRef.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		g := varRef.FindStringSubmatch(m)
		name, op, arg := g[1], g[3], g[4]
		if name == "" {
			name = g[5]
		}
		uses = append(uses, varUse{name, op})
		v, set := env[name]
		switch op {
		case ":-":
			if v == "" {
				return arg
			}
		case "-":
			if !set {
				return arg
			}
		case ":?", "?":
			if v == "" && (op == ":?" || !set) {
				err = fmt.Errorf("required variable %s is missing: %s", name, arg)
			}
		}
		return v
	})
	return out, uses, err
}

type compose struct {
	raw    string      // the file as written
	parsed composeFile // as written, before substitution
	file   composeFile // with .env.example substituted
	uses   []varUse
	env    map[string]string
}

func loadCompose(t *testing.T) compose {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(composeDir, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	c := compose{raw: string(b), env: envExample(t)}
	decodeStrict(t, "docker-compose.yml", b, &c.parsed)
	// Compose substitutes in values, not comments: drop comment lines first.
	var lines []string
	for _, l := range strings.Split(c.raw, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			lines = append(lines, l)
		}
	}
	s, uses, err := interpolate(strings.Join(lines, "\n"), c.env)
	if err != nil {
		t.Fatalf("docker-compose.yml with .env.example: %v", err)
	}
	c.uses = uses
	decodeStrict(t, "docker-compose.yml (substituted)", []byte(s), &c.file)
	if len(c.file.Services) == 0 {
		t.Fatal("no services")
	}
	return c
}

// longRunning are the services `docker compose up` starts (tools sit in a
// profile and are started by `docker compose run`).
func (c compose) longRunning() []string {
	var out []string
	for name, s := range c.file.Services {
		if len(s.Profiles) == 0 {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

var versionTag = regexp.MustCompile(`^v?[0-9]+\.[0-9]+`)

func TestComposeImagesArePinned(t *testing.T) {
	c := loadCompose(t)
	targets := map[string]bool{}
	for _, s := range dockerfile(t) {
		targets[s.name] = true
	}
	for name, s := range c.file.Services {
		ref, digest, _ := strings.Cut(s.Image, "@")
		repo, tag, ok := strings.Cut(ref, ":")
		if strings.Contains(tag, "/") { // a registry port, not a tag
			ok = false
		}
		if !ok || tag == "" || tag == "latest" {
			t.Errorf("%s: image %q has no tag or uses latest", name, s.Image)
			continue
		}
		if digest != "" && !strings.HasPrefix(digest, "sha256:") {
			t.Errorf("%s: digest %q", name, digest)
		}
		if _, own := ownPrograms[name]; own {
			// Built here: the image is the Dockerfile target of the same name.
			if s.Build == nil || s.Build.Target != name || !targets[name] || repo != "streamforge/"+name {
				t.Errorf("%s: image %s, build %+v: want streamforge/%s built from the Dockerfile's %s target", name, s.Image, s.Build, name, name)
				continue
			}
			if ctx := filepath.Join(composeDir, s.Build.Context); !exists(filepath.Join(ctx, "Dockerfile")) || !exists(filepath.Join(ctx, "go.mod")) {
				t.Errorf("%s: build context %s is not the repository root", name, s.Build.Context)
			}
			for _, arg := range []string{"VERSION", "COMMIT"} {
				if s.Build.Args[arg] == "" {
					t.Errorf("%s: build arg %s not passed", name, arg)
				}
			}
			continue
		}
		if s.Build != nil {
			t.Errorf("%s: unexpected build section", name)
		}
		if !versionTag.MatchString(tag) {
			t.Errorf("%s: image %s: want an exact version tag", name, s.Image)
		}
	}
}

func TestComposeHealthChecksAndStartOrder(t *testing.T) {
	c := loadCompose(t)
	for _, name := range c.longRunning() {
		s := c.file.Services[name]
		if s.Restart == "" || s.Restart == "no" {
			t.Errorf("%s: no restart policy", name)
		}
		if why, ok := noHealthcheck[name]; ok {
			if s.Healthcheck != nil {
				t.Errorf("%s has a health check now: remove it from noHealthcheck (%s)", name, why)
			}
			continue
		}
		h := s.Healthcheck
		if h == nil || len(h.Test) < 2 || (h.Test[0] != "CMD" && h.Test[0] != "CMD-SHELL") {
			t.Errorf("%s: no health check (or not in exec form)", name)
			continue
		}
		if h.Interval == "" || h.Timeout == "" || h.Retries == 0 {
			t.Errorf("%s: health check without interval, timeout or retries", name)
		}
		if port, own := ownPrograms[name]; own {
			// Distroless: the probe is the healthcheck binary the image
			// carries, on the port the program listens on.
			want := "http://127.0.0.1:" + port + "/"
			if h.Test[0] != "CMD" || h.Test[1] != "/usr/local/bin/healthcheck" || len(h.Test) != 3 || !strings.HasPrefix(h.Test[2], want) {
				t.Errorf("%s: health check %v, want [CMD /usr/local/bin/healthcheck %s…]", name, h.Test, want)
			}
		}
	}
	for name, s := range c.file.Services {
		for dep, d := range s.DependsOn {
			ds, ok := c.file.Services[dep]
			if !ok {
				t.Errorf("%s depends on %s, which is not a service", name, dep)
				continue
			}
			want := "service_started"
			if ds.Healthcheck != nil {
				want = "service_healthy"
			}
			if d.Condition != want {
				t.Errorf("%s depends on %s with condition %q, want %s", name, dep, d.Condition, want)
			}
		}
	}
	// The start order that matters: bulker after Kafka, PostgreSQL and
	// Redis are healthy; dummy-service after Kafka; Grafana after its data
	// sources; the log shipper after Loki.
	for svc, deps := range map[string][]string{
		"bulker": {"kafka", "postgres", "redis"}, "dummy-service": {"kafka"},
		"grafana": {"prometheus", "loki"}, "alloy": {"loki"},
	} {
		for _, d := range deps {
			if _, ok := c.file.Services[svc].DependsOn[d]; !ok {
				t.Errorf("%s does not wait for %s", svc, d)
			}
		}
	}
}

func TestComposeVolumesAndPorts(t *testing.T) {
	c := loadCompose(t)
	used := map[string]bool{}
	for name, s := range c.file.Services {
		for _, v := range s.Volumes {
			parts := strings.Split(v, ":")
			if len(parts) < 2 {
				t.Errorf("%s: volume %q: want source:target", name, v)
				continue
			}
			src := parts[0]
			switch {
			case strings.HasPrefix(src, "."):
				// A file of this repository: it must exist, or Docker
				// would create an empty directory in its place.
				if !exists(filepath.Join(composeDir, src)) {
					t.Errorf("%s: bind mount %s does not exist", name, src)
				}
				if parts[len(parts)-1] != "ro" {
					t.Errorf("%s: repository file %s mounted writable", name, src)
				}
			case src == "/var/run/docker.sock":
				if parts[len(parts)-1] != "ro" {
					t.Errorf("%s: the Docker socket mounted writable", name)
				}
			case strings.HasPrefix(src, "/"):
				t.Errorf("%s: host path %s: use a named volume", name, src)
			default:
				if _, ok := c.file.Volumes[src]; !ok {
					t.Errorf("%s: named volume %s is not declared", name, src)
				}
				used[src] = true
			}
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s: port %s is published on every interface, want 127.0.0.1 only", name, p)
			}
		}
	}
	for v := range c.file.Volumes {
		if !used[v] {
			t.Errorf("volume %s is declared but unused", v)
		}
	}
	for _, svc := range []string{"kafka", "postgres", "redis", "prometheus", "loki", "grafana"} {
		var named bool
		for _, v := range c.file.Services[svc].Volumes {
			src, _, _ := strings.Cut(v, ":")
			named = named || c.file.Volumes[src] != nil || (!strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "/"))
		}
		if !named {
			t.Errorf("%s keeps its data in no named volume", svc)
		}
	}
}

var secretName = regexp.MustCompile(`PASSWORD|TOKEN|SECRET|_AUTH|SASL`)

func TestComposeSecretsComeFromEnv(t *testing.T) {
	c := loadCompose(t)
	// Every variable the file uses is in .env.example, unless it has a
	// default; a secret never has one (the default would be a secret in
	// the file).
	for _, u := range c.uses {
		if _, ok := c.env[u.name]; !ok && u.op != ":-" && u.op != "-" {
			t.Errorf("${%s} is used but not in .env.example", u.name)
		}
		if secretName.MatchString(u.name) && (u.op == ":-" || u.op == "-") {
			t.Errorf("${%s} has a default: a secret literal in the file", u.name)
		}
	}
	// Values of secret-looking variables are substitutions, never literals.
	for name, s := range c.parsed.Services {
		for k, v := range s.Environment {
			if secretName.MatchString(k) && !strings.Contains(v, "${") {
				t.Errorf("%s: %s is a literal, want ${VAR} from .env", name, k)
			}
		}
	}
	// No secret of .env.example is written into the file itself, and each
	// reaches the service that needs it.
	for k, v := range c.env {
		if secretName.MatchString(k) && strings.Contains(c.raw, v) {
			t.Errorf("the value of %s is written in docker-compose.yml", k)
		}
	}
	bulker := c.file.Services["bulker"].Environment
	d := bulkerDestination(t, bulker)
	if got := d.Credentials.Password.Reveal(); got != c.env["POSTGRES_PASSWORD"] || c.file.Services["postgres"].Environment["POSTGRES_PASSWORD"] != got {
		t.Errorf("bulker's PostgreSQL password %q and the server's %q are not POSTGRES_PASSWORD from .env", got, c.file.Services["postgres"].Environment["POSTGRES_PASSWORD"])
	}
	if bulker["BULKER_RAW_AUTH_TOKENS"] != c.env["BULKER_TOKEN"] {
		t.Error("bulker's API token is not BULKER_TOKEN from .env")
	}
	u, err := url.Parse(bulker["BULKER_REDIS_URL"])
	if err != nil {
		t.Fatalf("BULKER_REDIS_URL: %v", err)
	}
	if pw, _ := u.User.Password(); pw != c.env["REDIS_PASSWORD"] || !slices.Contains(c.file.Services["redis"].Command, c.env["REDIS_PASSWORD"]) {
		t.Error("bulker's Redis password and the server's are not REDIS_PASSWORD from .env")
	}
	if gitignored, _ := os.ReadFile("../.gitignore"); !strings.Contains(string(gitignored), "deploy/compose/.env\n") {
		t.Error(".gitignore does not keep deploy/compose/.env out of git")
	}
}

// bulkerDestination decodes the one destination the stack configures,
// strictly: a misspelt option or credential fails.
func bulkerDestination(t *testing.T, env map[string]string) destination.Config {
	t.Helper()
	var ids []string
	for k := range env {
		if id, ok := strings.CutPrefix(k, "BULKER_DESTINATION_"); ok {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("destinations %v, want one", ids)
	}
	raw := env["BULKER_DESTINATION_"+ids[0]]
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	var strict destination.Config
	if err := dec.Decode(&strict); err != nil {
		t.Fatalf("BULKER_DESTINATION_%s: %v", ids[0], err)
	}
	d, err := destination.ParseJSON([]byte(raw), strings.ToLower(ids[0]))
	if err != nil {
		t.Fatalf("bulker rejects BULKER_DESTINATION_%s: %v", ids[0], err)
	}
	return d
}

func TestComposeBulkerConfiguration(t *testing.T) {
	c := loadCompose(t)
	s := c.file.Services["bulker"]
	known := bulkerEnvDoc(t)
	for k := range s.Environment {
		if !known.has(k) {
			t.Errorf("bulker is given %s, which its configuration table does not have", k)
		}
	}
	env := s.Environment
	if env["BULKER_HTTP_PORT"] != ownPrograms["bulker"] || !slices.Contains(s.Ports, "127.0.0.1:3042:"+env["BULKER_HTTP_PORT"]) {
		t.Errorf("bulker listens on %q, publishes %v", env["BULKER_HTTP_PORT"], s.Ports)
	}
	if env["BULKER_HTTP_HOST"] != "0.0.0.0" {
		t.Errorf("BULKER_HTTP_HOST %q: bulker must listen on the container's network", env["BULKER_HTTP_HOST"])
	}
	checkKafkaBootstrap(t, c, "bulker", env["BULKER_KAFKA_BOOTSTRAP_SERVERS"])

	d := bulkerDestination(t, env)
	pg := c.file.Services["postgres"].Environment
	if d.Type != "postgres" || d.Credentials.Host != "postgres" || d.Credentials.Username != pg["POSTGRES_USER"] || d.Credentials.Database != pg["POSTGRES_DB"] {
		t.Errorf("destination %+v does not point at the postgres service's database and user", d.Credentials)
	}
	u, err := url.Parse(env["BULKER_REDIS_URL"])
	if err != nil || u.Scheme != "redis" || u.Hostname() != "redis" || c.file.Services[u.Hostname()].Image == "" {
		t.Errorf("BULKER_REDIS_URL %v does not point at the redis service", u)
	}
	// dummy-service's events reach a table: the source reads the topic
	// dummy-service writes, into the configured destination.
	src, err := config.ParseSource([]byte(env["BULKER_SOURCE_QUEUE_EVENTS"]), "queue_events")
	if err == nil {
		err = src.Validate("")
	}
	events := c.file.Services["dummy-service"].Environment["QUEUE_EVENTS_TOPIC"]
	if events == "" {
		events = "queue-events"
	}
	if err != nil || src.Topic != events || src.Destination != d.ID {
		t.Errorf("BULKER_SOURCE_QUEUE_EVENTS %+v (%v): want dummy-service's %s into destination %s", src, err, events, d.ID)
	}
}

// checkKafkaBootstrap: a client's bootstrap address is a listener the
// Kafka service advertises to the other containers.
func checkKafkaBootstrap(t *testing.T, c compose, client, bootstrap string) {
	t.Helper()
	advertised := c.file.Services["kafka"].Environment["KAFKA_ADVERTISED_LISTENERS"]
	for _, addr := range strings.Split(bootstrap, ",") {
		if !strings.Contains(advertised, "://"+addr) || strings.HasPrefix(addr, "localhost") {
			t.Errorf("%s bootstraps from %q; Kafka advertises %s", client, addr, advertised)
		}
	}
	id, err := base64.RawURLEncoding.DecodeString(c.file.Services["kafka"].Environment["CLUSTER_ID"])
	if err != nil || len(id) != 16 {
		t.Errorf("CLUSTER_ID is not a base64url UUID (%d bytes, %v): the storage format step would refuse it", len(id), err)
	}
}

func TestComposeDummyServiceConfiguration(t *testing.T) {
	c := loadCompose(t)
	known := dummyEnvDoc(t)
	for _, name := range []string{"dummy-service", "debug-producer"} {
		for k := range c.file.Services[name].Environment {
			if !known.has(k) {
				t.Errorf("%s is given %s, which the README does not list", name, k)
			}
		}
	}
	s := c.file.Services["dummy-service"]
	var environ []string
	for k, v := range s.Environment {
		environ = append(environ, k+"="+v)
	}
	o, err := dummy.ParseArgs(s.Command, environ, io.Discard)
	if err != nil {
		t.Fatalf("dummy-service rejects its command %v and environment: %v", s.Command, err)
	}
	if o.Service.ExitAfter != 0 || o.Service.FailAfter != 0 || o.Service.Noop {
		t.Errorf("dummy-service would end by itself (%v) and restart in a loop", s.Command)
	}
	if _, p, _ := net.SplitHostPort(o.MetricsAddr); p != ownPrograms["dummy-service"] {
		t.Errorf("dummy-service serves metrics on %s", o.MetricsAddr)
	}
	checkKafkaBootstrap(t, c, "dummy-service", strings.Join(o.Kafka.Brokers, ","))
	checkKafkaBootstrap(t, c, "debug-producer", c.file.Services["debug-producer"].Environment["KAFKA_BOOTSTRAP_SERVERS"])
}

func TestComposeMonitoring(t *testing.T) {
	c := loadCompose(t)
	mountOf := func(svc, src string) string {
		for _, v := range c.file.Services[svc].Volumes {
			if p := strings.Split(v, ":"); p[0] == src {
				return p[1]
			}
		}
		t.Errorf("%s does not mount %s", svc, src)
		return ""
	}

	// Prometheus scrapes every program at the port it serves metrics on,
	// and loads the alert rules from deploy/prometheus/alerts.yml.
	b, err := os.ReadFile(filepath.Join(composeDir, "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var prom struct {
		Global        map[string]string `yaml:"global"`
		RuleFiles     []string          `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	decodeStrict(t, "prometheus.yml", b, &prom)
	if mountOf("prometheus", "./prometheus.yml") != "/etc/prometheus/prometheus.yml" {
		t.Error("prometheus.yml is not mounted where Prometheus reads its configuration")
	}
	if rules := mountOf("prometheus", "../prometheus/alerts.yml"); !slices.Contains(prom.RuleFiles, rules) {
		t.Errorf("rule_files %v does not load the mounted alerts at %s", prom.RuleFiles, rules)
	}
	jobs := map[string]string{}
	for _, sc := range prom.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, target := range st.Targets {
				host, _, err := net.SplitHostPort(target)
				if err != nil || (host != "localhost" && c.file.Services[host].Image == "") {
					t.Errorf("job %s: target %s is not a service of the stack", sc.JobName, target)
				}
				jobs[sc.JobName] = target
			}
		}
	}
	for svc, p := range ownPrograms {
		if p != "" && jobs[svc] != svc+":"+p {
			t.Errorf("job %s scrapes %q, want %s:%s", svc, jobs[svc], svc, p)
		}
	}
	for _, svc := range c.longRunning() {
		if _, ok := jobs[svc]; !ok && !slices.Contains([]string{"kafka", "postgres", "redis"}, svc) {
			t.Errorf("Prometheus does not scrape %s", svc)
		}
	}

	// Grafana: data sources for Prometheus and Loki at their service
	// addresses, and the dashboards of deploy/grafana/dashboards.
	b, err = os.ReadFile(filepath.Join(composeDir, "grafana/provisioning/datasources/datasources.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, UID, Type, Access, URL string
			IsDefault                    bool `yaml:"isDefault"`
		} `yaml:"datasources"`
	}
	decodeStrict(t, "datasources.yml", b, &ds)
	urls := map[string]string{}
	for _, d := range ds.Datasources {
		urls[d.Type] = d.URL
	}
	if urls["prometheus"] != "http://prometheus:9090" || urls["loki"] != "http://loki:3100" {
		t.Errorf("data sources %v, want prometheus at http://prometheus:9090 and loki at http://loki:3100", urls)
	}
	if mountOf("grafana", "./grafana/provisioning") != "/etc/grafana/provisioning" {
		t.Error("the provisioning directory is not mounted where Grafana reads it")
	}
	b, err = os.ReadFile(filepath.Join(composeDir, "grafana/provisioning/dashboards/dashboards.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var dp struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name, Folder, Type string
			AllowUIUpdates     bool `yaml:"allowUiUpdates"`
			Options            struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	decodeStrict(t, "dashboards.yml", b, &dp)
	if target := mountOf("grafana", "../grafana/dashboards"); len(dp.Providers) != 1 || dp.Providers[0].Options.Path != target {
		t.Errorf("the dashboard provider reads %+v, the dashboards are mounted at %s", dp.Providers, target)
	}
	for _, f := range dashboardFiles(t) {
		if !exists(filepath.Join(composeDir, "../grafana/dashboards", path.Base(f))) {
			t.Errorf("dashboard %s missing", f)
		}
	}

	// Alloy reads the Docker socket it is given, keeps to this project and
	// pushes to the loki service.
	b, err = os.ReadFile(filepath.Join(composeDir, "alloy/config.alloy"))
	if err != nil {
		t.Fatal(err)
	}
	alloy := string(b)
	for _, want := range []string{
		`"unix://` + mountOf("alloy", "/var/run/docker.sock") + `"`,
		`"com.docker.compose.project=` + c.file.Name + `"`,
		`"http://loki:3100/loki/api/v1/push"`,
	} {
		if !strings.Contains(alloy, want) {
			t.Errorf("config.alloy lacks %s", want)
		}
	}
	if !slices.Contains(c.file.Services["alloy"].Command, mountOf("alloy", "./alloy/config.alloy")) {
		t.Error("alloy does not run the mounted config.alloy")
	}
}

// dashboardFiles are the agreed dashboards every deployment ships.
func dashboardFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("grafana/dashboards/*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"bulker.json", "dummy-service.json"} {
		if !slices.Contains(files, "grafana/dashboards/"+want) {
			t.Errorf("deploy/grafana/dashboards/%s is missing", want)
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			UID   string `json:"uid"`
			Title string `json:"title"`
		}
		if err := json.Unmarshal(b, &d); err != nil || d.UID == "" || d.Title == "" {
			t.Errorf("%s: not a dashboard with a uid and a title (%v)", f, err)
		}
	}
	return files
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func TestInterpolate(t *testing.T) {
	env := map[string]string{"A": "a", "E": ""}
	for _, c := range []struct {
		in, want string
		err      bool
	}{
		{"x${A}y", "xay", false},
		{"$A-$$A", "a-$A", false},
		{"${B:-def}", "def", false},
		{"${E:-def}", "def", false},
		{"${E-def}", "", false},
		{"${B-def}", "def", false},
		{"${A:?need A}", "a", false},
		{"${B:?need B}", "", true},
		{"${E:?need E}", "", true},
		{"${E?need E}", "", false},
	} {
		got, _, err := interpolate(c.in, env)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("interpolate(%q) = %q, %v", c.in, got, err)
		}
	}
}

// promtool, where installed, checks prometheus.yml and the alert rules as
// Prometheus will load them in the stack (the rule file at its mount path
// is replaced by the repository's file).
func TestComposePrometheusConfigWithPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian package prometheus)")
	}
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(composeDir, "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := filepath.Abs("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.ReplaceAll(string(b), "/etc/prometheus/alerts.yml", rules)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "config", filepath.Join(dir, "prometheus.yml")).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
}
