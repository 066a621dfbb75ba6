#!/usr/bin/env bash
# `iris bench streams` for several pipelines, one after another (each measures the decode-only
# count again, so every file stands alone), then an optional soak. Writes one JSON file per run
# into OUT and prints a summary line per run. Runs take minutes each; the machine should be
# otherwise idle for numbers worth comparing (the JSON records the load average).
#
# usage: bench/streams.sh [IRIS_BINARY]           (default: build/iris)
# env:   PIPELINES="motion hog blazeface"  OUT=out/bench-streams  HOLD=60  SOAK=0 (seconds; runs
#        after the last pipeline, at 80% of its max)  EXTRA="--max-streams 128"
set -euo pipefail

iris=${1:-build/iris}
pipelines=${PIPELINES:-motion hog blazeface}
out=${OUT:-out/bench-streams}
hold=${HOLD:-60}
soak=${SOAK:-0}
extra=${EXTRA:-}

[ -x "$iris" ] || { echo "streams.sh: no iris binary at '$iris'; build it or pass its path" >&2; exit 2; }
mkdir -p "$out"

# The value of a top-level "key" in iris's pretty-printed JSON (two-space indent).
field() { grep -m1 "^  \"$2\":" "$1" | sed 's/^[^:]*: *//; s/,$//'; }

for p in $pipelines; do
  json="$out/$p.json"
  soak_args=()
  if [ "$soak" != 0 ] && [ "$p" = "${pipelines##* }" ]; then soak_args=(--soak "$soak"); fi
  # shellcheck disable=SC2086  # EXTRA is a list of options
  "$iris" bench streams --pipeline "$p" --hold "$hold" "${soak_args[@]}" $extra --json \
    > "$json" 2> "$out/$p.log"
  echo "$p: decode_max $(field "$json" decode_max), pipeline_max $(field "$json" pipeline_max)," \
       "ratio $(field "$json" ratio), cpu/stream $(field "$json" cpu_cores_per_stream)," \
       "rss MB/stream $(field "$json" rss_mb_per_stream) -> $json"
done
