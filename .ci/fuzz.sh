#!/usr/bin/env bash
# Runs every fuzz target for FUZZTIME (default 20s), one after the other
# (go test -fuzz takes one target a run), and prints each one's duration and
# executions. Fails when a target finds a crasher (written under the
# package's testdata/fuzz) or when a Fuzz function in the tree is missing
# from TARGETS, so a new target is never left out.
#
#   FUZZTIME=2m .ci/fuzz.sh              # every target, longer
#   .ci/fuzz.sh ./export FuzzParseLayout # one target
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-20s}"

# package target, one a line.
TARGETS="
./catalog FuzzLoadFile
./catalog FuzzNativeCheck
./discover FuzzReadOverlay
./discover/flowlog FuzzRead
./discover/flowlog FuzzReadFile
./discover/flows FuzzCgroup2Mount
./discover/flows FuzzClassify
./discover/flows FuzzDecode
./discover/flows FuzzReadLog
./discover/manifests FuzzDecode
./discover/manifests FuzzDecodeValue
./discover/manifests FuzzKustomizationFile
./discover/manifests FuzzKustomize
./discover/manifests FuzzSimpleYAML
./export FuzzParseLayout
./export FuzzReadBaseline
./export FuzzReadGraphJSON
./internal/jsonstr FuzzAppend
./internal/memlimit FuzzCgroupDirs
./internal/mountinfo FuzzParseLine
./internal/secretvalue FuzzOf
./internal/safetext FuzzText
./model FuzzParseConnectionString
./model/store FuzzDecodeFindingGroup
./threats FuzzReadTriageFile
"

# Every func FuzzXxx(f *testing.F) in a test file must be listed.
missing=0
while IFS=: read -r file _ line; do
	name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' <<<"$line")
	pkg="./$(dirname "$file")"
	if ! grep -qx "$pkg $name" <<<"$TARGETS"; then
		echo "fuzz: $pkg $name is not in .ci/fuzz.sh's TARGETS" >&2
		missing=1
	fi
done < <(git grep -n -E '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' -- '*_test.go')
[ "$missing" = 0 ] || exit 1

if [ $# -eq 2 ]; then
	TARGETS="$1 $2"
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
summary=""
failed=0
while read -r pkg name; do
	[ -n "$pkg" ] || continue
	start=$SECONDS
	corpus="$pkg/testdata/fuzz/$name"
	before=$(ls "$corpus" 2>/dev/null || true)
	# Minimizing each new interesting input may take a worker 60s by
	# default, during which it neither fuzzes nor reports its executions:
	# most of a short run went there. 3s shrinks what it can.
	if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 3s "$pkg" >"$log" 2>&1; then
		status=ok
	elif [ "$(ls "$corpus" 2>/dev/null || true)" = "$before" ] && grep -q '^    context deadline exceeded$' "$log" && ! grep -q 'Failing input written' "$log"; then
		# Go's fuzzing coordinator can report its own -fuzztime deadline
		# as a failure when a busy worker stops late (go.dev/issue/75804,
		# fixed in Go 1.27): no input failed, none was written.
		status=ok*
	else
		status=FAILED
		failed=1
		cat "$log"
	fi
	execs=$(grep -oE 'execs: [0-9]+' "$log" | tail -1 | cut -d' ' -f2 || true)
	line=$(printf '%-24s %-24s %6s %5ss %12s execs' "$pkg" "$name" "$status" "$((SECONDS - start))" "${execs:-?}")
	echo "fuzz: $line"
	summary+="$line"$'\n'
done <<<"$TARGETS"
echo "== fuzz summary (FUZZTIME=$FUZZTIME; ok* = stopped late by go.dev/issue/75804, no failing input)"
printf '%s' "$summary"
exit "$failed"
