// Package buildinfo tells which build of a StreamForge program is running:
// the version and commit it was built from and the Go release that built
// it. Programs print it for --version and export it as a metric.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version and Commit are set at link time by the Makefile and the
// Dockerfile:
//
//	-ldflags "-X github.com/streamforge/streamforge/internal/buildinfo.Version=v1.2.3
//	          -X github.com/streamforge/streamforge/internal/buildinfo.Commit=<sha>"
//
// They stay empty in a plain go build; Read then falls back to what the Go
// toolchain recorded.
var (
	Version string
	Commit  string
)

// Defaults for a build that recorded nothing (go build -buildvcs=false
// outside a tagged module).
const (
	DefaultVersion = "dev"
	DefaultCommit  = "unknown"
)

// Info describes one build.
type Info struct {
	Version   string
	Commit    string
	GoVersion string
}

// Read returns the build's information: the link-time values first, then
// the module version (go install …@v1.2.3) and the VCS revision the Go
// toolchain stamps into binaries built inside a git checkout.
func Read() Info {
	i := Info{Version: Version, Commit: Commit, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if i.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			i.Version = bi.Main.Version
		}
		if i.Commit == "" {
			i.Commit = vcsRevision(bi.Settings)
		}
	}
	if i.Version == "" {
		i.Version = DefaultVersion
	}
	if i.Commit == "" {
		i.Commit = DefaultCommit
	}
	return i
}

func vcsRevision(settings []debug.BuildSetting) string {
	var rev string
	var modified bool
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev != "" && modified {
		rev += "-dirty"
	}
	return rev
}

// Line is the answer to --version: the program's name, version, commit and
// Go release on one line, e.g. "bulker v1.2.3 (commit 1a2b3c4, go1.26.8)".
func (i Info) Line(program string) string {
	return fmt.Sprintf("%s %s (commit %s, %s)", program, i.Version, i.Commit, i.GoVersion)
}
