package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseFlags(t *testing.T) {
	for _, c := range []struct {
		args     []string
		code     int
		done     bool
		stdout   string // a substring, "" for none
		stderrOK func(string) bool
	}{
		{args: nil, code: 0, done: false},
		{args: []string{"--version"}, code: 0, done: true, stdout: "bulker "},
		{args: []string{"-version"}, code: 0, done: true, stdout: "(commit "},
		{args: []string{"--help"}, code: 0, done: true, stderrOK: func(s string) bool { return strings.Contains(s, "Usage: bulker") && strings.Contains(s, "BULKER_") }},
		{args: []string{"-h"}, code: 0, done: true, stderrOK: func(s string) bool { return strings.Contains(s, "Usage: bulker") }},
		{args: []string{"--port", "1"}, code: 2, done: true, stderrOK: func(s string) bool { return strings.Contains(s, "-port") }},
		{args: []string{"serve"}, code: 2, done: true, stderrOK: func(s string) bool { return strings.Contains(s, "BULKER_*") }},
	} {
		var stdout, stderr bytes.Buffer
		code, done := parseFlags(c.args, &stdout, &stderr)
		if code != c.code || done != c.done {
			t.Errorf("%q: code %d done %v, want %d %v", c.args, code, done, c.code, c.done)
		}
		if c.stdout != "" && !strings.Contains(stdout.String(), c.stdout) {
			t.Errorf("%q: stdout %q, want it to contain %q", c.args, stdout.String(), c.stdout)
		}
		if c.stdout == "" && stdout.Len() > 0 {
			t.Errorf("%q: unexpected stdout %q", c.args, stdout.String())
		}
		if c.stderrOK != nil && !c.stderrOK(stderr.String()) {
			t.Errorf("%q: stderr %q", c.args, stderr.String())
		}
	}
}
