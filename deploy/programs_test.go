package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The version and commit `make build` is given here; every binary must
// report them.
const (
	testVersion = "v1.2.3-test"
	testCommit  = "0123abc"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// programs builds every program under cmd/ once: the Makefile's build
// (with its ldflags) for those it builds, go build for the rest (bench,
// which is run with go run).
func programs(t *testing.T) (dir string, names []string) {
	t.Helper()
	mains, err := filepath.Glob("../cmd/*/main.go")
	if err != nil || len(mains) == 0 {
		t.Fatalf("no programs under cmd/: %v", err)
	}
	for _, m := range mains {
		names = append(names, filepath.Base(filepath.Dir(m)))
	}
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "streamforge-bin-")
		if buildErr != nil {
			return
		}
		var out []byte
		out, buildErr = exec.Command("make", "-C", "..", "build", "BIN="+binDir, "VERSION="+testVersion, "COMMIT="+testCommit).CombinedOutput()
		if buildErr != nil {
			buildErr = errors.New(string(out) + buildErr.Error())
			return
		}
		for _, n := range names {
			if _, err := os.Stat(filepath.Join(binDir, n)); err == nil {
				continue
			}
			if out, err := exec.Command("go", "build", "-o", binDir, "../cmd/"+n).CombinedOutput(); err != nil {
				buildErr = errors.New(string(out) + err.Error())
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatalf("building the programs: %v", buildErr)
	}
	return binDir, names
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// Every program answers --version and --help at once, in an empty
// directory with nothing configured, and starts nothing: no embedded
// broker, no data directory, no listener.
func TestProgramsAnswerVersionAndHelpWithoutStarting(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every program")
	}
	dir, names := programs(t)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			for _, flag := range []string{"--version", "--help"} {
				cwd := t.TempDir()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				cmd := exec.CommandContext(ctx, filepath.Join(dir, name), flag)
				cmd.Dir = cwd
				cmd.Env = []string{"HOME=" + cwd, "PATH=" + os.Getenv("PATH")}
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				cancel()
				if err != nil {
					t.Fatalf("%s %s: %v (ctx %v)\nstdout: %s\nstderr: %s", name, flag, err, ctx.Err(), &stdout, &stderr)
				}
				switch flag {
				case "--version":
					line := strings.TrimSpace(stdout.String())
					if !strings.HasPrefix(line, name+" ") || !strings.Contains(line, "(commit ") || !strings.HasSuffix(line, runtime.Version()+")") {
						t.Errorf("--version printed %q, want the name, version, commit and Go release", line)
					}
					if name != "bench" {
						if want := name + " " + testVersion + " (commit " + testCommit + ", " + runtime.Version() + ")"; line != want {
							t.Errorf("--version printed %q, want %q", line, want)
						}
					}
				case "--help":
					if out := stdout.String() + stderr.String(); !strings.Contains(out, "-version") {
						t.Errorf("--help does not list --version:\n%s", out)
					}
				}
				if left, _ := os.ReadDir(cwd); len(left) > 0 {
					t.Errorf("%s %s left %v behind: it started something", name, flag, left)
				}
			}
		})
	}
}

// bulker and dummy-service export <prefix>_build_info with the version and
// commit the build was given.
func TestRunningProgramsExportBuildInfo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs programs")
	}
	dir, _ := programs(t)
	for _, c := range []struct {
		program, metric string
		args            func(data string) []string
		env             func(data string) []string
	}{
		{
			program: "bulker", metric: "bulker_build_info",
			env: func(data string) []string {
				return []string{"BULKER_DATA_DIR=" + data, "BULKER_EMBEDDED_KAFKA_ADDR=" + freeAddr(t), "BULKER_HTTP_PORT=" + port(t)}
			},
		},
		{
			program: "dummy-service", metric: "dummy_build_info",
			args: func(string) []string { return []string{"--exit-after", "60", "--metrics-addr", freeAddr(t)} },
			env: func(data string) []string {
				return []string{"BROKER_ADDR=" + freeAddr(t), "BROKER_DATA_DIR=" + data}
			},
		},
	} {
		t.Run(c.program, func(t *testing.T) {
			data := t.TempDir()
			var args []string
			if c.args != nil {
				args = c.args(data)
			}
			env := c.env(data)
			cmd := exec.Command(filepath.Join(dir, c.program), args...)
			cmd.Dir = data
			cmd.Env = append([]string{"HOME=" + data, "PATH=" + os.Getenv("PATH")}, env...)
			var logs bytes.Buffer
			cmd.Stdout, cmd.Stderr = &logs, &logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			defer func() {
				_ = cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-done:
				case <-time.After(20 * time.Second):
					_ = cmd.Process.Kill()
					<-done
				}
			}()

			url := "http://" + metricsAddr(c.program, args, env) + "/metrics"
			deadline := time.Now().Add(30 * time.Second)
			for {
				labels, ok := scrapeGauge(url, c.metric)
				if ok {
					want := map[string]string{"version": testVersion, "commit": testCommit, "goversion": runtime.Version()}
					for k, v := range want {
						if labels[k] != v {
							t.Errorf("%s{%s=%q}, want %q", c.metric, k, labels[k], v)
						}
					}
					return
				}
				select {
				case err := <-done:
					done <- err
					t.Fatalf("%s exited (%v) before serving %s:\n%s", c.program, err, c.metric, &logs)
				case <-time.After(200 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					t.Fatalf("no %s with value 1 at %s within 30 s:\n%s", c.metric, url, &logs)
				}
			}
		})
	}
}

func metricsAddr(program string, args, env []string) string {
	if program == "bulker" {
		for _, kv := range env {
			if p, ok := strings.CutPrefix(kv, "BULKER_HTTP_PORT="); ok {
				return "127.0.0.1:" + p
			}
		}
	}
	for i, a := range args {
		if a == "--metrics-addr" {
			return args[i+1]
		}
	}
	return ""
}

// scrapeGauge returns the labels of metric when url serves it with the
// value 1.
func scrapeGauge(url, metric string) (map[string]string, bool) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, false
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil || fams[metric] == nil || len(fams[metric].GetMetric()) != 1 {
		return nil, false
	}
	m := fams[metric].GetMetric()[0]
	if m.GetGauge().GetValue() != 1 {
		return nil, false
	}
	labels := map[string]string{}
	for _, l := range m.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	return labels, true
}

func port(t *testing.T) string {
	_, p, _ := net.SplitHostPort(freeAddr(t))
	return p
}
