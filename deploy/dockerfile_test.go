package deploy_test

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/streamforge/streamforge/internal/dummy"
)

// No Docker engine is reachable where these tests run, so the Dockerfile is
// checked statically, and its build stage is replayed with the local Go
// toolchain on a copy of the build context that .dockerignore lets through.

const buildinfoPkg = "github.com/streamforge/streamforge/internal/buildinfo"

// noImage lists the programs under cmd/ that get no image, and why.
var noImage = map[string]string{
	"bench":       "it builds the programs it measures from the source tree with the Go toolchain",
	"healthcheck": "it is not run alone: every image carries it for container health checks",
}

// stage is one FROM … section of the Dockerfile.
type stage struct {
	name, from string
	user       string // the last USER, "" when the stage sets none
	runs       []string
	copies     [][]string // COPY arguments
	labels     map[string]string
	entrypoint []string
	cmd        []string
}

// dockerfile reads ../Dockerfile into its stages, in order.
func dockerfile(t *testing.T) []*stage {
	t.Helper()
	f, err := os.Open("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages []*stage
	var cur *stage
	var line string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "#") || (l == "" && line == "") {
			continue
		}
		if c, ok := strings.CutSuffix(l, `\`); ok {
			line += c + " "
			continue
		}
		line += l
		instr, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest = strings.TrimSpace(rest)
		line = ""
		if strings.ToUpper(instr) == "FROM" {
			f := strings.Fields(rest)
			cur = &stage{from: f[0], labels: map[string]string{}}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				cur.name = f[2]
			}
			stages = append(stages, cur)
			continue
		}
		if cur == nil {
			t.Fatalf("%s before the first FROM", instr)
		}
		switch strings.ToUpper(instr) {
		case "USER":
			cur.user = rest
		case "RUN":
			cur.runs = append(cur.runs, rest)
		case "COPY":
			cur.copies = append(cur.copies, strings.Fields(rest))
		case "LABEL":
			for _, m := range regexp.MustCompile(`(\S+?)=("(?:[^"\\]|\\.)*"|\S+)`).FindAllStringSubmatch(rest, -1) {
				cur.labels[m[1]] = strings.Trim(m[2], `"`)
			}
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(rest), &cur.entrypoint); err != nil {
				t.Fatalf("ENTRYPOINT %s must be a JSON array: %v", rest, err)
			}
		case "CMD":
			if err := json.Unmarshal([]byte(rest), &cur.cmd); err != nil {
				t.Fatalf("CMD %s must be a JSON array: %v", rest, err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return stages
}

func stageNamed(stages []*stage, name string) *stage {
	for _, s := range stages {
		if s.name == name {
			return s
		}
	}
	return nil
}

// chain returns s and the stages it is built on, s first.
func chain(stages []*stage, s *stage) []*stage {
	out := []*stage{s}
	for p := stageNamed(stages, s.from); p != nil; p = stageNamed(stages, p.from) {
		out = append(out, p)
	}
	return out
}

// imagePrograms are the programs under cmd/ that get an image.
func imagePrograms(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob("../cmd/*/main.go")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no programs under cmd/: %v", err)
	}
	var out []string
	for _, d := range dirs {
		if p := filepath.Base(filepath.Dir(d)); noImage[p] == "" {
			out = append(out, p)
		}
	}
	return out
}

// goBuild is the build stage's go build command.
func goBuild(t *testing.T, stages []*stage) (build *stage, cmd string) {
	t.Helper()
	for _, s := range stages {
		for _, r := range s.runs {
			if strings.Contains(r, "go build") {
				if cmd != "" {
					t.Fatal("more than one go build: one stage should compile every program once")
				}
				build, cmd = s, r
			}
		}
	}
	if cmd == "" {
		t.Fatal("no go build in the Dockerfile")
	}
	return build, cmd
}

func TestDockerfileBaseImagesArePinned(t *testing.T) {
	stages := dockerfile(t)
	goMod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(goMod)[1]
	for _, s := range stages {
		if stageNamed(stages, s.from) != nil {
			continue // built on an earlier stage
		}
		ref, digest, _ := strings.Cut(s.from, "@")
		repo, tag, ok := strings.Cut(path.Base(ref), ":")
		if !ok || tag == "" || tag == "latest" {
			t.Errorf("FROM %s: want an exact tag (and a digest where a registry can be reached)", s.from)
		}
		if digest != "" && !strings.HasPrefix(digest, "sha256:") {
			t.Errorf("FROM %s: digest %q", s.from, digest)
		}
		switch repo {
		case "golang":
			// The toolchain go.mod asks for, not a newer or older one the
			// go command would have to download or refuse.
			if !strings.HasPrefix(tag, string(goVersion)+"-") && tag != string(goVersion) {
				t.Errorf("FROM %s: want Go %s, as go.mod says", s.from, goVersion)
			}
		case "static-debian12", "static-debian13":
			if !strings.HasPrefix(ref, "gcr.io/distroless/") || tag != "nonroot" {
				t.Errorf("FROM %s: want distroless static with the nonroot tag", s.from)
			}
		default:
			t.Errorf("FROM %s: unexpected base image", s.from)
		}
	}
}

func TestDockerfileBuildsEveryProgramStaticAndStamped(t *testing.T) {
	stages := dockerfile(t)
	_, cmd := goBuild(t, stages)
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath",
		"-X " + buildinfoPkg + ".Version=${VERSION}", "-X " + buildinfoPkg + ".Commit=${COMMIT}"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("go build %q lacks %q", cmd, want)
		}
	}
	for _, p := range append(imagePrograms(t), "healthcheck") {
		if !regexp.MustCompile(`\./cmd/` + regexp.QuoteMeta(p) + `(\s|$)`).MatchString(cmd) {
			t.Errorf("go build does not build ./cmd/%s", p)
		}
	}
}

func TestDockerfileHasANonRootTargetPerProgram(t *testing.T) {
	stages := dockerfile(t)
	for _, p := range imagePrograms(t) {
		t.Run(p, func(t *testing.T) {
			s := stageNamed(stages, p)
			if s == nil {
				t.Fatalf("no stage (build target) named %s", p)
			}
			bin := "/usr/local/bin/" + p
			if !slices.Equal(s.entrypoint, []string{bin}) {
				t.Errorf("ENTRYPOINT %v, want [%s]", s.entrypoint, bin)
			}
			labels := map[string]string{}
			var user, base string
			var binaries []string
			for _, st := range chain(stages, s) {
				for k, v := range st.labels {
					if _, ok := labels[k]; !ok {
						labels[k] = v
					}
				}
				if user == "" {
					user = st.user
				}
				base = st.from
				for _, c := range st.copies {
					if len(c) == 3 && c[0] == "--from=build" {
						binaries = append(binaries, c[2])
					}
				}
			}
			if !strings.Contains(base, "distroless/static") {
				t.Errorf("runtime base %s, want distroless static", base)
			}
			if user == "" || strings.HasPrefix(user, "root") || strings.HasPrefix(user, "0") {
				t.Errorf("runs as %q, want a non-root user", user)
			}
			for _, b := range []string{bin, "/usr/local/bin/healthcheck"} {
				if !slices.Contains(binaries, b) {
					t.Errorf("%s is not copied from the build stage (copies: %v)", b, binaries)
				}
			}
			for _, k := range []string{"title", "description", "version", "revision", "source"} {
				if labels["org.opencontainers.image."+k] == "" {
					t.Errorf("no org.opencontainers.image.%s label", k)
				}
			}
			if labels["org.opencontainers.image.version"] != "${VERSION}" || labels["org.opencontainers.image.revision"] != "${COMMIT}" {
				t.Errorf("version/revision labels %q/%q, want the build args", labels["org.opencontainers.image.version"], labels["org.opencontainers.image.revision"])
			}
		})
	}
	if last := stages[len(stages)-1]; last.name != "bulker" {
		t.Errorf("the default target (last stage) is %s, want bulker", last.name)
	}
}

// The seed's Dockerfile ran dummy-service with --simulate-loading
// --exit-after 30; the image keeps that CMD and the service accepts it.
func TestDockerfileDummyServiceCMD(t *testing.T) {
	cmd := dummyServiceCMD(t)
	if want := []string{"--simulate-loading", "--exit-after", "30"}; !slices.Equal(cmd, want) {
		t.Errorf("CMD %v, want %v", cmd, want)
	}
	if _, err := dummy.ParseArgs(cmd, nil, io.Discard); err != nil {
		t.Errorf("dummy-service rejects the image's CMD: %v", err)
	}
}

func dummyServiceCMD(t *testing.T) []string {
	t.Helper()
	s := stageNamed(dockerfile(t), "dummy-service")
	if s == nil {
		t.Fatal("no dummy-service stage")
	}
	return s.cmd
}

// TestDockerBuildStageReplayed runs the build stage's go build the way
// docker build would: in a build context holding only what .dockerignore
// lets through and the COPY instructions take, with the build args set.
// The binaries then report the version and commit passed as build args.
func TestDockerBuildStageReplayed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every program")
	}
	stages := dockerfile(t)
	build, cmd := goBuild(t, stages)
	ignore := dockerignore(t)
	ctx := t.TempDir()
	for _, c := range build.copies {
		if strings.HasPrefix(c[0], "--") {
			continue
		}
		for _, src := range c[:len(c)-1] {
			copyContext(t, src, filepath.Join(ctx, src), ignore)
		}
	}
	// A test file or a testdata directory in the context would mean
	// .dockerignore lets the whole tree in.
	_ = filepath.WalkDir(ctx, func(p string, d os.DirEntry, err error) error {
		if err == nil && (strings.HasSuffix(p, "_test.go") || d.Name() == "testdata") {
			t.Errorf("%s reached the build context", p)
		}
		return err
	})

	out := t.TempDir()
	run := regexp.MustCompile(`--mount=\S+\s*`).ReplaceAllString(cmd, "")
	run = strings.ReplaceAll(run, "-o /out/", "-o "+out+"/")
	c := exec.Command("sh", "-c", run)
	c.Dir = ctx
	c.Env = append(os.Environ(), "VERSION=v9.8.7-docker", "COMMIT=0123456789abcdef")
	if b, err := c.CombinedOutput(); err != nil {
		t.Fatalf("%s\n%s: %v", run, b, err)
	}
	for _, p := range append(imagePrograms(t), "healthcheck") {
		b, err := exec.Command(filepath.Join(out, p), "--version").Output()
		if err != nil {
			t.Fatalf("%s --version: %v", p, err)
		}
		if want := p + " v9.8.7-docker (commit 0123456789abcdef, " + runtime.Version() + ")\n"; string(b) != want {
			t.Errorf("%s --version = %q, want %q", p, b, want)
		}
	}
}

// dockerignore reads ../.dockerignore as (pattern, exclude) rules; the
// last rule that matches a path decides, as in Docker.
type ignoreRule struct {
	pattern string
	keep    bool
}

func dockerignore(t *testing.T) []ignoreRule {
	t.Helper()
	b, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var rules []ignoreRule
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		p, keep := strings.CutPrefix(l, "!")
		rules = append(rules, ignoreRule{pattern: strings.TrimSuffix(p, "/"), keep: keep})
	}
	return rules
}

// ignored applies the rules to a slash-separated path relative to the
// context root: a pattern matches the path or one of its parent
// directories, and "**/" matches any number of directories.
func ignored(rules []ignoreRule, rel string) bool {
	out := false
	for _, r := range rules {
		if matchPath(r.pattern, rel) {
			out = !r.keep
		}
	}
	return out
}

func matchPath(pattern, rel string) bool {
	parts := strings.Split(rel, "/")
	for i := 1; i <= len(parts); i++ {
		prefix := strings.Join(parts[:i], "/")
		if ok, _ := path.Match(pattern, prefix); ok {
			return true
		}
		if p, ok := strings.CutPrefix(pattern, "**/"); ok {
			for j := 0; j < i; j++ {
				if ok, _ := path.Match(p, strings.Join(parts[j:i], "/")); ok {
					return true
				}
			}
		}
	}
	return false
}

// copyContext copies the repository path src (relative to the root) to
// dst, leaving out what .dockerignore excludes.
func copyContext(t *testing.T, src, dst string, rules []ignoreRule) {
	t.Helper()
	root := filepath.Join("..", src)
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel("..", p)
		if err != nil {
			return err
		}
		if ignored(rules, filepath.ToSlash(rel)) {
			if d.IsDir() && !anyKeptBelow(rules, filepath.ToSlash(rel)) {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, strings.TrimPrefix(rel, filepath.Clean(src)))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatalf("copying %s into the build context: %v", src, err)
	}
}

// anyKeptBelow tells whether a later "!" rule may re-include something
// under the excluded directory dir, so the walk must go on into it.
func anyKeptBelow(rules []ignoreRule, dir string) bool {
	for _, r := range rules {
		if r.keep && (strings.HasPrefix(r.pattern, dir+"/") || strings.HasPrefix(r.pattern, "**/")) {
			return true
		}
	}
	return false
}

func TestDockerignore(t *testing.T) {
	rules := dockerignore(t)
	for _, keep := range []string{"go.mod", "go.sum", "cmd/bulker/main.go", "internal/kafka/config.go"} {
		if ignored(rules, keep) {
			t.Errorf("%s is left out of the build context", keep)
		}
	}
	for _, drop := range []string{".git/HEAD", "bin/bulker", "data/local.db", "deploy/k8s/job.yaml", "internal/kafka/client_test.go", "internal/destination/testdata/x.ndjson", "README.md"} {
		if !ignored(rules, drop) {
			t.Errorf("%s reaches the build context", drop)
		}
	}
}
