#!/usr/bin/env bash
# Tracker x suppression matrix on synthetic scenes. For each seed, `iris synth` makes a mixed
# scene with realistic detector noise; its detections are replayed through SORT and ByteTrack,
# each with suppression off and on, and every run is scored with `iris eval mot` (HOTA, IDF1 of
# the tracks, written before suppression) and `iris eval events` (precision, recall, false alarms
# per camera-hour of the rules' events). Prints one JSON object: every run, and the mean over the
# seeds per combination. Not a pass/fail test.
#
# usage: bench/track_matrix.sh [IRIS_BINARY]        (default: build/iris)
# env:   SEEDS="1 2 3"  DURATION=120  TOLERANCE=1  SIZE=640x480
#        NOISE="--miss-rate 0.1 --fp-rate 0.08 --jitter 2.5 --score-noise 0.1"
#        SUPPRESSION="{min_age: 1, min_hits: 4, score_enter: 0.5, ...}" (the "on" setting)
set -euo pipefail

iris=${1:-build/iris}
seeds=${SEEDS:-1 2 3}
duration=${DURATION:-120}
tolerance=${TOLERANCE:-1}
size=${SIZE:-640x480}
noise=${NOISE:---miss-rate 0.1 --fp-rate 0.08 --jitter 2.5 --score-noise 0.1}
suppression=${SUPPRESSION:-"{min_age: 1, min_hits: 4, score_enter: 0.5, score_stay: 0.35, static_time: 20, cooldown: 2}"}
trackers="sort bytetrack"

[ -x "$iris" ] || { echo "track_matrix: no iris binary at '$iris'; build it or pass its path" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The value of "key" in one line of JSON: the first occurrence, which for iris eval's output is the
# top-level one (breakdowns come after the totals).
field() { printf '%s' "$1" | grep -o "\"$2\":[^,}]*" | head -n 1 | cut -d: -f2; }

runs=()
for seed in $seeds; do
  scene="$work/scene-$seed"
  # shellcheck disable=SC2086  # NOISE is a list of options
  "$iris" synth --out "$scene" --seed "$seed" --duration "$duration" --size "$size" $noise >&2
  for tracker in $trackers; do
    for supp in off on; do
      out="$scene/$tracker-$supp"
      mkdir -p "$out"
      # pipeline.yaml has one key a line: swap the tracker and outputs, add suppression.
      sed -e "s|^    tracker: {type: sort}\$|    tracker: {type: $tracker}|" \
          -e "s|$scene/events.jsonl|$out/events.jsonl|" \
          -e "s|$scene/tracks.txt|$out/tracks.txt|" \
          "$scene/pipeline.yaml" > "$out/pipeline.yaml"
      if [ "$supp" = on ]; then
        sed -i "s|^    rules:\$|    suppression: $suppression\n    rules:|" "$out/pipeline.yaml"
      fi
      "$iris" run "$out/pipeline.yaml" --quiet > "$out/run.log" 2>&1 ||
        { echo "track_matrix: iris run failed on $out/pipeline.yaml:" >&2; cat "$out/run.log" >&2; exit 1; }
      mot=$("$iris" eval mot --gt "$scene/gt.txt" --tracker "$out/tracks.txt" --json)
      events=$("$iris" eval events --truth "$scene/truth.json" --events "$out/events.jsonl" \
               --tolerance "$tolerance" --json)
      runs+=("$seed $tracker $supp $(field "$mot" HOTA) $(field "$mot" IDF1) $(field "$mot" IDSW)\
 $(field "$events" precision) $(field "$events" recall) $(field "$events" false_alarms_per_hour)\
 $(field "$events" truth) $(field "$events" events)")
    done
  done
done

printf '%s\n' "${runs[@]}" | awk -v seeds="$seeds" -v duration="$duration" -v size="$size" \
    -v tolerance="$tolerance" -v noise="$noise" -v suppression="$suppression" '
  function num(v) { return v == "null" ? "null" : v + 0 }
  {
    supp = ($3 == "on") ? "true" : "false"
    line = sprintf("{\"seed\":%d,\"tracker\":\"%s\",\"suppression\":%s,\"HOTA\":%s,\"IDF1\":%s," \
                   "\"IDSW\":%s,\"precision\":%s,\"recall\":%s,\"false_alarms_per_hour\":%s," \
                   "\"truth_events\":%s,\"events\":%s}",
                   $1, $2, supp, num($4), num($5), num($6), num($7), num($8), num($9), $10, $11)
    results = results (NR > 1 ? ",\n  " : "") line
    key = $2 " " supp
    if (!(key in n)) order[++keys] = key
    n[key]++
    for (i = 4; i <= 9; i++) if ($i != "null") { sum[key, i] += $i; cnt[key, i]++ }
  }
  function mean(key, i) { return cnt[key, i] ? sprintf("%.4f", sum[key, i] / cnt[key, i]) : "null" }
  END {
    gsub(/"/, "\\\"", suppression)
    printf "{\"bench\":\"track_matrix\",\"seeds\":\"%s\",\"duration\":%s,\"size\":\"%s\",", seeds, duration, size
    printf "\"noise\":\"%s\",\"tolerance\":%s,\"suppression_on\":\"%s\",\n", noise, tolerance, suppression
    printf "\"mean\":[\n"
    for (k = 1; k <= keys; k++) {
      split(order[k], p, " ")
      printf "  {\"tracker\":\"%s\",\"suppression\":%s,\"HOTA\":%s,\"IDF1\":%s,\"IDSW\":%s," \
             "\"precision\":%s,\"recall\":%s,\"false_alarms_per_hour\":%s}%s\n",
             p[1], p[2], mean(order[k], 4), mean(order[k], 5), mean(order[k], 6), mean(order[k], 7),
             mean(order[k], 8), mean(order[k], 9), k < keys ? "," : ""
    }
    printf "],\n\"runs\":[\n  %s\n]}\n", results
  }'
