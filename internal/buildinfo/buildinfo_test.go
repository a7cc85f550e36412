package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestReadPrefersLinkTimeValues(t *testing.T) {
	defer func(v, c string) { Version, Commit = v, c }(Version, Commit)
	Version, Commit = "v1.2.3", "1a2b3c4"
	i := Read()
	if i.Version != "v1.2.3" || i.Commit != "1a2b3c4" || i.GoVersion != runtime.Version() {
		t.Fatalf("Read() = %+v", i)
	}
	if got, want := i.Line("bulker"), "bulker v1.2.3 (commit 1a2b3c4, "+runtime.Version()+")"; got != want {
		t.Fatalf("Line = %q, want %q", got, want)
	}
}

func TestReadDefaultsWithoutLinkTimeValues(t *testing.T) {
	defer func(v, c string) { Version, Commit = v, c }(Version, Commit)
	Version, Commit = "", ""
	i := Read()
	// A test binary is built as "(devel)" and, under go test, without VCS
	// stamping: the defaults show.
	if i.Version != DefaultVersion {
		t.Errorf("Version = %q, want %q", i.Version, DefaultVersion)
	}
	if i.Commit == "" {
		t.Error("Commit is empty, want the VCS revision or the default")
	}
}

func TestVCSRevisionMarksModifiedTrees(t *testing.T) {
	for _, c := range []struct {
		settings []debug.BuildSetting
		want     string
	}{
		{nil, ""},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}}, "abc"},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "true"}}, "abc-dirty"},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "false"}}, "abc"},
	} {
		if got := vcsRevision(c.settings); got != c.want {
			t.Errorf("vcsRevision(%v) = %q, want %q", c.settings, got, c.want)
		}
	}
}
