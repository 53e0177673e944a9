#!/usr/bin/env bash
# Replay throughput, measured against the decompression floor in one run on the same files.
#
#   bash bench/run.sh [DATA_DIR] [EVENTS]      (defaults: bench/data, 1000000)
#
# Generates the data once (deterministic seed; bench/gen.rs), then times on the CloudTrail files:
#   (a) zcat of all files to /dev/null               the decompression floor of a user's tools
#   (b) the jq filter a user would otherwise write    zcat | jq '.Records[] | select(errorCode ~ denied)'
#   (f) whydenied replay --decompress-only            the floor with our backend and threads
#   (c) whydenied replay into a fresh database
#   (d) the same replay again (everything already seen)
# and prints seconds, events/s, uncompressed MB/s, peak RSS and ratios, and checks that every
# denial the generator wrote was found. It also replays a tenth of the data to show peak memory
# does not grow with the input. REPS (default 5) sets how often the fast runs repeat.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-bench/data}
EVENTS=${2:-1000000}
cargo build --release --quiet --bin whydenied --example bench-gen
BIN=target/release/whydenied
if [ ! -f "$DATA/manifest.json" ]; then
  target/release/examples/bench-gen "$DATA" "$EVENTS" 200 42 >/dev/null
fi
SMALL="$DATA-tenth"
if [ ! -f "$SMALL/manifest.json" ]; then
  target/release/examples/bench-gen "$SMALL" "$((EVENTS / 10))" 20 42 >/dev/null
fi
mapfile -t FILES < <(find "$DATA/cloudtrail" -name '*.gz' | sort)
manifest() { python3 -c "import json,sys; print(json.load(open('$1/manifest.json'))['$2'])"; }
events=$(manifest "$DATA" events)
denials=$(manifest "$DATA" cloudtrail_denials)
bytes=$(manifest "$DATA" cloudtrail_bytes)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run NAME CMD...: wall seconds and peak RSS (KB) of CMD, output to $tmp/NAME.out
run() {
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$tmp/$name.time" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" || true
  cat "$tmp/$name.time"
}
read -r t_zcat m_zcat < <(run zcat sh -c 'zcat "$@" > /dev/null' sh "${FILES[@]}")
read -r t_jq m_jq < <(run jq sh -c 'zcat "$@" | jq -c ".Records[] | select((.errorCode // \"\") | test(\"AccessDenied|Unauthorized\"))" | wc -l' sh "${FILES[@]}")
# The fast runs take about a second, where this machine's noise is 10-20%: each of (f), (c) and
# (d) runs REPS times, interleaved so that a slow spell hits all three, and the median is kept
# (peak RSS: the largest).
REPS=${REPS:-5}
median() { python3 -c "import sys,statistics; print(statistics.median(map(float, sys.argv[1:])))" "$@"; }
maxof() { python3 -c "import sys; print(max(map(int, sys.argv[1:])))" "$@"; }
ts_dec=(); ms_dec=(); ts_c=(); ms_c=(); ts_d=(); ms_d=()
for rep in $(seq "$REPS"); do
  rm -f "$tmp"/w.db* "$tmp"/dec.db*
  read -r t m < <(run dec "$BIN" --db "$tmp/dec.db" replay --decompress-only --format json "$DATA/cloudtrail")
  ts_dec+=("$t"); ms_dec+=("$m")
  read -r t m < <(run replay "$BIN" --db "$tmp/w.db" replay --format json "$DATA/cloudtrail")
  ts_c+=("$t"); ms_c+=("$m")
  read -r t m < <(run again "$BIN" --db "$tmp/w.db" replay --format json "$DATA/cloudtrail")
  ts_d+=("$t"); ms_d+=("$m")
done
t_dec=$(median "${ts_dec[@]}"); m_dec=$(maxof "${ms_dec[@]}")
t_c=$(median "${ts_c[@]}"); m_c=$(maxof "${ms_c[@]}")
t_d=$(median "${ts_d[@]}"); m_d=$(maxof "${ms_d[@]}")
echo "runs (s): decompress-only ${ts_dec[*]}; replay ${ts_c[*]}; again ${ts_d[*]}"
read -r t_s m_s < <(run small "$BIN" --db "$tmp/s.db" replay --format json "$SMALL/cloudtrail")
found=$(sed -n 's/.* \([0-9]*\) denials .*/\1/p' "$tmp/replay.err")
jq_found=$(tr -d ' ' < "$tmp/jq.out")

printf 'machine: %s cores; %s events in %s files, %s MB uncompressed, %s denials\n' \
  "$(nproc)" "$events" "${#FILES[@]}" "$((bytes / 1000000))" "$denials"
printf '%-34s %8s %12s %9s %9s %9s\n' "run" "seconds" "events/s" "MB/s" "RSS MB" "x zcat"
row() {
  python3 - "$@" <<'PY'
import sys
name, t, m, events, nbytes, tz = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
print(f"{name:<34} {t:8.2f} {events/t:12,.0f} {nbytes/t/1e6:9.0f} {m/1024:9.1f} {t/tz:9.2f}")
PY
}
row "(a) zcat > /dev/null" "$t_zcat" "$m_zcat" "$events" "$bytes" "$t_zcat"
row "(b) zcat | jq filter" "$t_jq" "$m_jq" "$events" "$bytes" "$t_zcat"
row "(f) replay --decompress-only" "$t_dec" "$m_dec" "$events" "$bytes" "$t_zcat"
row "(c) replay, fresh database" "$t_c" "$m_c" "$events" "$bytes" "$t_zcat"
row "(d) replay again (all seen)" "$t_d" "$m_d" "$events" "$bytes" "$t_zcat"
row "(c') replay of a tenth of the data" "$t_s" "$m_s" "$((events / 10))" "$((bytes / 10))" "$t_zcat"
python3 - "$t_c" "$t_dec" "$t_jq" "$t_d" "$m_c" "$m_s" <<'PY'
import sys
c, dec, jq, d, mc, ms = map(float, sys.argv[1:])
print(f"replay / decompress-only: {c/dec:.2f}   jq / replay: {jq/c:.1f}x   second / first replay: {d/c:.2f}   "
      f"peak RSS at full / tenth size: {mc/1024:.1f} / {ms/1024:.1f} MB")
PY
echo "denials found by replay: $found of $denials written; jq filter matched $jq_found"
[ "$found" = "$denials" ] || { echo "MISMATCH: not every denial was found" >&2; exit 1; }
