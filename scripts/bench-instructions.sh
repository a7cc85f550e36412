#!/usr/bin/env bash
# bench-instructions.sh counts the CPU instructions one iteration of a Go
# benchmark costs, with valgrind's callgrind: unlike time, the count is the
# same from run to run whatever else the machine is doing, so changes of a
# few per cent show on a shared two-core VM.
#
#   scripts/bench-instructions.sh ./internal/schema 'Build$' [N]
#
# The benchmark runs twice, N and 3N iterations (default N 2000), and the
# difference is divided by 2N, so set-up is not counted. The callgrind
# files are kept (their paths are printed) for callgrind_annotate.
set -euo pipefail

if [ $# -lt 2 ]; then
	echo "usage: $0 PACKAGE BENCH-REGEXP [N]" >&2
	exit 2
fi
pkg=$1 bench=$2 n=${3:-2000}
if ! command -v valgrind >/dev/null; then
	echo "valgrind is missing: apt-get install -y valgrind" >&2
	exit 1
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-instructions.XXXXXX")
go test -c -o "$dir/bench.test" "$pkg"

# One thread and no preemption signals: callgrind counts one schedule, and
# Go's asynchronous preemption signals upset it.
count() {
	GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 valgrind --tool=callgrind \
		--callgrind-out-file="$dir/callgrind.$1.out" "$dir/bench.test" \
		-test.run='^$' -test.bench="$bench" -test.benchtime="$1x" 2>&1 |
		sed -n 's/^==[0-9]*== Collected : \([0-9]*\)$/\1/p'
}
one=$(count "$n")
three=$(count $((3 * n)))
if [ -z "$one" ] || [ -z "$three" ]; then
	echo "callgrind did not report a count; see $dir" >&2
	exit 1
fi
echo "$pkg $bench: $(((three - one) / (2 * n))) instructions per iteration"
echo "callgrind files: $dir/callgrind.$n.out $dir/callgrind.$((3 * n)).out"
