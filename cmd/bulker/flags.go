package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/streamforge/streamforge/internal/buildinfo"
)

// parseFlags handles bulker's only command-line options, --version and
// --help: everything else is configured by BULKER_* variables, so both
// answer before any configuration is read or anything is started. done
// says the program should exit now with code.
func parseFlags(args []string, stdout, stderr io.Writer) (code int, done bool) {
	fs := flag.NewFlagSet("bulker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	version := fs.Bool("version", false, "print the version, commit and Go release, then exit")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: bulker [--version | --help]

bulker loads JSON events into SQL databases: HTTP ingest -> Kafka -> batched
or streamed loads. It is configured by BULKER_* environment variables (see the
README's configuration table); with none set it runs the embedded broker and
a local SQLite destination.

Options:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		return 2, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bulker: unexpected arguments %q: configuration comes from BULKER_* variables\n", fs.Args())
		return 2, true
	}
	if *version {
		fmt.Fprintln(stdout, buildinfo.Read().Line("bulker"))
		return 0, true
	}
	return 0, false
}
