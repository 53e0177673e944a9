#!/usr/bin/env bash
# Replay throughput at two denial rates, measured against the decompression floor in one run on
# the same machine.
#
#   bash bench/run.sh [DATA_DIR] [EVENTS] [RATES]
#   (defaults: bench/data, 500000, "5 200": denials per 1,000 events, i.e. 0.5 % and 20 %)
#
# For each rate it generates the data once (deterministic seed; bench/gen.rs: EVENTS events in
# EVENTS/5000 gzipped S3 delivery files) and times on its CloudTrail files:
#   (a) zcat of all files to /dev/null               the decompression floor of a user's tools
#   (b) the jq filter a user would otherwise write    zcat | jq '.Records[] | select(errorCode ~ denied)'
#   (f) whydenied replay --decompress-only            the floor with our backend and threads
#   (c) whydenied replay into a fresh database
#   (d) the same replay again (everything already seen)
# and prints seconds, events/s, uncompressed MB/s, peak RSS and the ratio to zcat, checks that
# every denial the generator wrote was found, and ends with the cost of one denial: the extra
# wall time and CPU time of replay (c) per extra denial between the lowest and highest rate
# (same events, same files). REPS (default 5) sets how often the fast runs repeat.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-bench/data}
EVENTS=${2:-500000}
RATES=${3:-5 200}
FILES=$(( (EVENTS + 4999) / 5000 ))
cargo build --release --quiet --bin whydenied --example bench-gen
BIN=target/release/whydenied
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
REPS=${REPS:-5}
median() { python3 -c "import sys,statistics; print(statistics.median(map(float, sys.argv[1:])))" "$@"; }
maxof() { python3 -c "import sys; print(max(map(int, sys.argv[1:])))" "$@"; }
# run NAME CMD...: wall seconds, peak RSS (KB) and CPU seconds of CMD, output to $tmp/NAME.out
run() {
  local name=$1; shift
  /usr/bin/time -f "%e %M %U %S" -o "$tmp/$name.time" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" || true
  read -r t m u s < "$tmp/$name.time"
  echo "$t $m $(python3 -c "print(round($u + $s, 2))")"
}
row() {
  python3 - "$@" <<'PY'
import sys
name, t, m, events, nbytes, tz = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
print(f"{name:<34} {t:8.2f} {events/t:12,.0f} {nbytes/t/1e6:9.0f} {m/1024:9.1f} {t/tz:9.2f}")
PY
}
printf 'machine: %s cores\n' "$(nproc)"
summary=()
for rate in $RATES; do
  dir="$DATA-$rate"
  if [ ! -f "$dir/manifest.json" ]; then
    target/release/examples/bench-gen "$dir" "$EVENTS" "$FILES" 42 "$rate" >/dev/null
  fi
  mapfile -t FILES_OF < <(find "$dir/cloudtrail" -name '*.gz' | sort)
  manifest() { python3 -c "import json,sys; print(json.load(open('$dir/manifest.json'))['$1'])"; }
  events=$(manifest events)
  denials=$(manifest cloudtrail_denials)
  bytes=$(manifest cloudtrail_bytes)
  read -r t_jq m_jq _ < <(run jq sh -c 'zcat "$@" | jq -c ".Records[] | select((.errorCode // \"\") | test(\"AccessDenied|Unauthorized\"))" | wc -l' sh "${FILES_OF[@]}")
  # Runs vary by 10-20 % on this machine, and now and then by 2-3x: each of (a), (f), (c) and
  # (d) runs REPS times, interleaved so that a slow spell hits all of them, and the median is
  # kept (peak RSS: the largest). The ratios are taken against the median zcat of the same run.
  ts_dec=(); ms_dec=(); ts_c=(); ms_c=(); cs_c=(); ts_d=(); ms_d=(); ts_z=(); ms_z=()
  for rep in $(seq "$REPS"); do
    read -r t m _ < <(run zcat sh -c 'zcat "$@" > /dev/null' sh "${FILES_OF[@]}")
    ts_z+=("$t"); ms_z+=("$m")
    rm -f "$tmp"/w.db* "$tmp"/dec.db*
    read -r t m _ < <(run dec "$BIN" --db "$tmp/dec.db" replay --decompress-only --format json "$dir/cloudtrail")
    ts_dec+=("$t"); ms_dec+=("$m")
    read -r t m c < <(run replay "$BIN" --db "$tmp/w.db" replay --format json "$dir/cloudtrail")
    ts_c+=("$t"); ms_c+=("$m"); cs_c+=("$c")
    read -r t m _ < <(run again "$BIN" --db "$tmp/w.db" replay --format json "$dir/cloudtrail")
    ts_d+=("$t"); ms_d+=("$m")
  done
  t_zcat=$(median "${ts_z[@]}"); m_zcat=$(maxof "${ms_z[@]}")
  t_dec=$(median "${ts_dec[@]}"); m_dec=$(maxof "${ms_dec[@]}")
  t_c=$(median "${ts_c[@]}"); m_c=$(maxof "${ms_c[@]}"); c_c=$(median "${cs_c[@]}")
  t_d=$(median "${ts_d[@]}"); m_d=$(maxof "${ms_d[@]}")
  found=$(sed -n 's/.* \([0-9]*\) denials .*/\1/p' "$tmp/replay.err")
  findings=$(sed -n 's/.*, \([0-9]*\) findings,.*/\1/p' "$tmp/replay.err")
  jq_found=$(tr -d ' ' < "$tmp/jq.out")
  echo
  printf '%s denials per 1,000: %s events in %s files, %s MB uncompressed, %s denials, %s findings\n' \
    "$rate" "$events" "${#FILES_OF[@]}" "$((bytes / 1000000))" "$denials" "$findings"
  echo "runs (s): zcat ${ts_z[*]}; decompress-only ${ts_dec[*]}; replay ${ts_c[*]}; again ${ts_d[*]}"
  printf '%-34s %8s %12s %9s %9s %9s\n' "run" "seconds" "events/s" "MB/s" "RSS MiB" "x zcat"
  row "(a) zcat > /dev/null" "$t_zcat" "$m_zcat" "$events" "$bytes" "$t_zcat"
  row "(b) zcat | jq filter" "$t_jq" "$m_jq" "$events" "$bytes" "$t_zcat"
  row "(f) replay --decompress-only" "$t_dec" "$m_dec" "$events" "$bytes" "$t_zcat"
  row "(c) replay, fresh database" "$t_c" "$m_c" "$events" "$bytes" "$t_zcat"
  row "(d) replay again (all seen)" "$t_d" "$m_d" "$events" "$bytes" "$t_zcat"
  echo "replay CPU time (user+system, median): ${c_c} s; denials found: $found of $denials written; jq filter matched $jq_found"
  [ "$found" = "$denials" ] || { echo "MISMATCH: not every denial was found" >&2; exit 1; }
  summary+=("$rate $denials $t_c $c_c")
done
# The cost of one denial: between the lowest and the highest rate, the events and files are
# the same; what replay spends more is what the extra denials cost.
if [ "${#summary[@]}" -ge 2 ]; then
  python3 - "${summary[0]}" "${summary[-1]}" <<'PY'
import sys
r0, d0, t0, c0 = sys.argv[1].split(); r1, d1, t1, c1 = sys.argv[2].split()
extra = int(d1) - int(d0)
if extra > 0:
    print(f"\nper denial ({r0} -> {r1} per 1,000, {extra:,} more denials): "
          f"{(float(t1) - float(t0)) / extra * 1e6:.1f} us wall, {(float(c1) - float(c0)) / extra * 1e6:.1f} us CPU")
PY
fi
