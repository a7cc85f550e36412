#!/usr/bin/env bash
# Makes sure the tools `make bench` drives besides its own Go load
# generator are installed: wrk (Debian package), the second, external load
# generator of the ingest rounds. Idempotent; installing needs root
# (apt-get).
set -euo pipefail

log() { printf 'bench-tools: %s\n' "$*" >&2; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
		log "need root to run: $*"; return 1; fi
}

if ! command -v wrk >/dev/null; then
	log "installing wrk"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
wrk --version 2>&1 | head -n 1 >&2 || true
