// Command healthcheck is the HTTP probe shipped in every StreamForge image.
// The images are distroless (no shell, no curl), so a container health
// check such as Docker Compose's runs this instead:
//
//	healthcheck http://127.0.0.1:3042/ready
//
// It exits 0 when the URL answers 2xx and 1 otherwise, with the reason on
// stderr (Docker keeps it in the container's health log).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/streamforge/streamforge/internal/buildinfo"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 3*time.Second, "give up on the request after this long")
	version := fs.Bool("version", false, "print the version, commit and Go release, then exit")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: healthcheck [--timeout D] URL\n\nGET URL; exit 0 on a 2xx answer, 1 otherwise.\n\nOptions:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *version {
		fmt.Fprintln(stdout, buildinfo.Read().Line("healthcheck"))
		return 0
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	if err := probe(fs.Arg(0), *timeout); err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return 1
	}
	return 0
}

func probe(url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("building the request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	// The body says why a probe failed (bulker's /ready names the cause).
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: %s %s", url, resp.Status, body)
	}
	return nil
}
