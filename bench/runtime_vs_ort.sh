#!/usr/bin/env bash
# iris's runtime against ONNX Runtime 1.30 (CPU), in one run: BlazeFace front 128 and back 256
# (models/) and the YOLOv8n-shaped model at 320 and 640 (built by bench/models/yolov8n.py), each at
# every thread count and, for iris, every precision. Per model, ORT (bench/ort_bench.js, FP32)
# runs first, then `iris bench model --backend $BACKEND --precision ... --json`, with the same
# warm-up and repeat counts. For int8 the model is first calibrated with `iris quantize` on the
# pictures of Debian's opencv-doc (timing only: what the pictures show does not change the
# speed). Prints one JSON document on stdout and a markdown table on stderr. The ratio is iris p50
# / ORT FP32 p50: the issue's FP32 target is <= 1, its BF16/INT8 throughput target 1.8x, that is
# a ratio <= 0.56. Not a pass/fail test; other work on the machine skews latency, so each row
# records the 1-minute load average, and QUIET_LOAD makes each measurement wait for a quiet
# machine.
#
# usage: bench/runtime_vs_ort.sh [IRIS_BINARY]         (default: build/iris)
# env:   THREADS="1 2"  WARMUP=5  REPEAT=50  BACKEND=iris (any `iris bench --backend`)
#        PRECISIONS="fp32 bf16 int8" (with BACKEND=iris; other backends run fp32 only)
#        BENCH_DIR=build/bench (the YOLOv8n models and raw results)  ORT_DIR=build/ort
#        MODELS="blazeface_front_128 blazeface_back_256 yolov8n_320 yolov8n_640" (a subset)
#        QUIET_LOAD=1.5 QUIET_WAIT=900: before each measurement, wait until the 1-minute load
#        average is at most QUIET_LOAD, for up to QUIET_WAIT seconds (default: no waiting)
# exit:  0 when the document was printed (an iris row that failed is an "error" entry in it),
#        1 when ORT or the setup failed, 2 for a bad setting.
set -euo pipefail

cd "$(dirname "$0")/.."
iris=${1:-build/iris}
threads=${THREADS:-1 2}
warmup=${WARMUP:-5}
repeat=${REPEAT:-50}
backend=${BACKEND:-iris}
bench_dir=${BENCH_DIR:-build/bench}
export ORT_DIR=${ORT_DIR:-build/ort}
models=${MODELS:-blazeface_front_128 blazeface_back_256 yolov8n_320 yolov8n_640}
quiet_load=${QUIET_LOAD:-}
quiet_wait=${QUIET_WAIT:-900}
precisions=${PRECISIONS:-fp32 bf16 int8}
[ "$backend" = iris ] || precisions=fp32
calib=/usr/share/doc/opencv-doc/examples/data
python=/usr/bin/python3  # Debian's, with python3-torch; the first python3 on PATH may not be

for v in "$warmup" "$repeat" "$quiet_wait" $threads; do
  [[ $v =~ ^[0-9]+$ ]] || { echo "runtime_vs_ort: WARMUP, REPEAT, QUIET_WAIT and THREADS take whole numbers; got '$v'" >&2; exit 2; }
done
[[ -z $quiet_load || $quiet_load =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
  { echo "runtime_vs_ort: QUIET_LOAD takes a load average such as 1.5; got '$quiet_load'" >&2; exit 2; }
declare -A files=(
  [blazeface_front_128]=models/face_detection_front_128x128_barracuda.onnx
  [blazeface_back_256]=models/face_detection_back_256x256_barracuda.onnx
  [yolov8n_320]=$bench_dir/models/yolov8n_320.onnx
  [yolov8n_640]=$bench_dir/models/yolov8n_640.onnx
)
for m in $models; do
  [ -n "${files[$m]:-}" ] || { echo "runtime_vs_ort: unknown model '$m' in MODELS; known: ${!files[*]}" >&2; exit 2; }
done
for p in $precisions; do
  [[ $p =~ ^(fp32|bf16|int8)$ ]] || { echo "runtime_vs_ort: PRECISIONS takes fp32, bf16 and int8; got '$p'" >&2; exit 2; }
done
read -ra precision_array <<< "$precisions"
precision_list=$(IFS=,; echo "${precision_array[*]}")

# Packages only this benchmark needs (torch is large), installed here rather than by deps.sh.
bench_packages=(python3-torch python3-onnx python3-numpy python3-opencv)
missing=()
for p in "${bench_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  echo "runtime_vs_ort: installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2
fi
scripts/fetch_models.sh >&2
scripts/fetch_ort.sh >&2

# The YOLOv8n-shaped models are rebuilt when missing or when their script changed.
export_json=$bench_dir/models/yolov8n.json
stamp=$(sha256sum bench/models/yolov8n.py | cut -d' ' -f1)
if [[ " $models " == *" yolov8n_"* ]] &&
   { [ "$(cat "$bench_dir/models/yolov8n.stamp" 2>/dev/null)" != "$stamp" ] ||
     [ ! -s "${files[yolov8n_320]}" ] || [ ! -s "${files[yolov8n_640]}" ]; }; then
  echo "runtime_vs_ort: building the YOLOv8n-shaped models in $bench_dir/models" >&2
  mkdir -p "$bench_dir/models"
  "$python" bench/models/yolov8n.py --out "$bench_dir/models" --size 320 640 --check > "$export_json"
  echo "$stamp" > "$bench_dir/models/yolov8n.stamp"
fi

# Waits (bounded) for the 1-minute load average to fall to QUIET_LOAD, when that is set.
wait_quiet() {
  [ -n "$quiet_load" ] || return 0
  local start=$SECONDS load
  while load=$(cut -d' ' -f1 /proc/loadavg); awk -v l="$load" -v q="$quiet_load" 'BEGIN { exit l <= q }'; do
    if ((SECONDS - start >= quiet_wait)); then
      echo "runtime_vs_ort: load still $load after ${quiet_wait}s; measuring anyway" >&2
      return 0
    fi
    sleep 10
  done
}

raw=$bench_dir/runtime_vs_ort
rm -rf "$raw"
mkdir -p "$raw"
read -ra thread_array <<< "$threads"
thread_list=$(IFS=,; echo "${thread_array[*]}")
for m in $models; do
  wait_quiet
  echo "runtime_vs_ort: $m: onnxruntime, threads $thread_list (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  node bench/ort_bench.js "${files[$m]}" --threads "$thread_list" --warmup "$warmup" \
    --repeat "$repeat" > "$raw/$m.ort.json" ||
    { echo "runtime_vs_ort: ONNX Runtime failed on ${files[$m]}" >&2; exit 1; }
  if [ ! -x "$iris" ]; then
    echo "no iris binary at '$iris'; fix: build it (make build) or pass its path" > "$raw/$m.iris.err"
    continue
  fi
  file=${files[$m]}
  if [[ " $precisions " == *" int8 "* ]]; then
    # A calibrated copy runs int8 and, asked for fp32 or bf16, the plain model.
    file=$raw/${m}_int8.onnx
    echo "runtime_vs_ort: $m: calibrating for int8" >&2
    "$iris" quantize "${files[$m]}" --calib "$calib" --samples 32 --check 4 --threads 1 \
      --out "$file" > "$raw/$m.quantize.txt" 2>> "$raw/$m.iris.err" || file=${files[$m]}
  fi
  wait_quiet
  loadavg=$(cut -d' ' -f1 /proc/loadavg)
  echo "runtime_vs_ort: $m: iris --backend $backend, $precision_list, threads $thread_list (load $loadavg)" >&2
  # Keep going when iris fails: its rows become error entries with its message.
  precision_args=()
  [ "$backend" = iris ] && precision_args=(--precision "$precision_list")
  "$iris" bench model "$file" --backend "$backend" "${precision_args[@]}" \
    --threads "$thread_list" --warmup "$warmup" --repeat "$repeat" --json \
    > "$raw/$m.iris.json" 2>> "$raw/$m.iris.err" || true
  echo "$loadavg $(cut -d' ' -f1 /proc/loadavg)" > "$raw/$m.iris.load"
done

"$python" - "$raw" "$export_json" "$iris" "$backend" "$warmup" "$repeat" "$models" "$precisions" <<'EOF'
import json, os, platform, sys

raw, export_json, iris, backend, warmup, repeat, models, precisions = sys.argv[1:]

def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""

doc = {"bench": "runtime_vs_ort", "iris": {"binary": iris, "backend": backend},
       "warmup": int(warmup), "repeat": int(repeat),
       "ratio": "iris p50 / onnxruntime FP32 p50 (FP32 target: <= 1; BF16/INT8 target, 1.8x "
                "the throughput: <= 0.56)",
       "loadavg": "1-minute load average of the machine before and after each measurement",
       "rows": []}
lines = []
for m in models.split():
    ort = json.loads(read(f"{raw}/{m}.ort.json"))
    doc.setdefault("onnxruntime", {"version": ort["version"], "session": ort["session"]})
    doc.setdefault("host", dict(ort["host"], machine=platform.machine()))
    try:
        ir = json.loads(read(f"{raw}/{m}.iris.json"))
    except ValueError:
        ir = None
    err = read(f"{raw}/{m}.iris.err").strip()
    load = read(f"{raw}/{m}.iris.load").split()
    iris_rows = {(r.get("precision", "fp32"), r["threads"]): r for r in ir["rows"]} if ir else {}
    for o, precision in ((o, p) for o in ort["rows"] for p in precisions.split()):
        t = o["threads"]
        row = {"model": m, "file": ort["model"], "input_shape": ort["input"]["shape"], "threads": t,
               "precision": precision,
               "onnxruntime": {k: o.get(k) for k in
                               ("status", "p50_ms", "p90_ms", "mean_ms", "min_ms", "load_ms")},
               "onnxruntime_loadavg": [o.get("loadavg_before"), o.get("loadavg_after")]}
        r = iris_rows.get((precision, t))
        if r is None:
            # No row: iris did not load the model (or there is no binary); its message says why.
            last = err.splitlines()[-1] if err else "iris bench printed no result"
            row["iris"] = {"status": "error", "reason": last}
        elif r["status"] != "ok":
            row["iris"] = {"status": r["status"], "reason": r.get("reason", "")}
        else:
            row["iris"] = {k: r.get(k) for k in ("status", "p50_ms", "p90_ms", "mean_ms", "min_ms")}
        if load:
            row["iris_loadavg"] = [float(x) for x in load]
        ok = row["iris"]["status"] == "ok" and o["status"] == "ok"
        row["ratio"] = round(row["iris"]["p50_ms"] / o["p50_ms"], 3) if ok else None
        doc["rows"].append(row)
try:
    with open(export_json) as f:
        doc["yolov8n_export"] = json.load(f)
except (OSError, ValueError):
    pass
print(json.dumps(doc, indent=2))

def cell(side):
    if side.get("status") != "ok":
        return side.get("status", "?")
    return f'{side["p50_ms"]:.3f} ({side["min_ms"]:.3f})'

out = [f"| model | threads | ORT fp32 p50 (min) ms | iris {backend} | p50 (min) ms | ratio | load (ORT, iris) |",
       "| --- | ---: | ---: | --- | ---: | ---: | --- |"]
for r in doc["rows"]:
    ratio = f'{r["ratio"]:.2f}' if r["ratio"] is not None else "-"
    load = f'{r["onnxruntime_loadavg"][0]}, {r.get("iris_loadavg", ["-"])[0]}'
    out.append(f'| {r["model"]} | {r["threads"]} | {cell(r["onnxruntime"])} | {r["precision"]} '
               f'| {cell(r["iris"])} | {ratio} | {load} |')
failed = {}  # (status, reason) -> models, so that one missing backend is one line
for r in doc["rows"]:
    if r["iris"]["status"] != "ok":
        failed.setdefault((r["iris"]["status"], r["iris"]["reason"]), []).append(r["model"])
notes = [f'iris {status} ({", ".join(dict.fromkeys(ms))}): {reason}'
         for (status, reason), ms in failed.items()]
host = doc.get("host", {})
out.append("")
out.append(f'ONNX Runtime {doc["onnxruntime"]["version"]} vs iris --backend {backend}; '
           f'{warmup} warm-up + {repeat} timed runs; host {host.get("cpu")}, {host.get("cores")} cores')
out += notes
print("\n".join(out), file=sys.stderr)
EOF
