#!/usr/bin/env bash
# Runs the store benchmarks (JMH, tests/src/test/java/cgw/bench) beside their peers and writes
# JMH's JSON and logs, a summary with ratios (store-summary.md) and a description of the machine
# (machine.txt) to bench/results/. See bench/README.md.
#
#   bench/store-bench.sh                 full: 3 forks (runs) each, proper warmup, real sizes; hours
#   bench/store-bench.sh --quick         smoke: 1 fork, 2 s iterations, small datasets, results
#                                        in bench/results/quick/ (not committed)
# Options:
#   --only REGEX       only benchmarks whose name matches, e.g. 'StoreIo.*write4k|FileIo.*write4k'
#   --threads "1 8"    thread counts of the throughput benchmarks
#   --clean            delete the prepared datasets in bench/tmp/datasets first
#   --tag NAME         add to the results instead of replacing them: this run writes
#                      store-NAME-*.json/log and machine-NAME.txt, keeps the other results, and the
#                      summary covers every store-*.json of the results directory
#   -- ARGS            passed on to JMH, e.g. -- -p blockSizeBytes=4096 -prof jfr
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

mode=full
only=""
threads="1 8"
clean=0
tag=""
extra=()
while (($#)); do
  case "$1" in
    --quick) mode=quick ;;
    --only) only=$2; shift ;;
    --threads) threads=$2; shift ;;
    --clean) clean=1 ;;
    --tag) tag=$2; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "store-bench.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# RocksDB data and peer files: on the real disk, never a tmpfs (or the disk is not measured)
data=$root/bench/tmp
mkdir -p "$data"
fstype=$(df --output=fstype "$data" | tail -n 1 | tr -d ' ')
if [[ $fstype == tmpfs || $fstype == ramfs ]]; then
  echo "store-bench.sh: $data is on $fstype; benchmarks must run on the real disk" >&2
  exit 1
fi
((clean)) && rm -rf "$data/datasets"
rm -rf "$data/scratch"   # left by forks that were killed

if [[ $mode == quick ]]; then
  out=$root/bench/results/quick
  timing=(-f 1 -wi 1 -i 1 -w 2s -r 2s)
  single_timing=(-f 1 -wi 1 -i 3 -w 2s -r 2s)
  sizes=(-p volumeMiB=128 -p cachedDatasetMiB=64 -p uncachedDatasetMiB=512 -p sequentialDatasetMiB=512
         -p writtenMiB=128,512 -p gcVolumeMiB=128)
  need_gib=8
else
  out=$root/bench/results
  timing=(-f 3 -wi 2 -i 3 -w 5s -r 5s)
  single_timing=(-f 3 -wi 2 -i 5 -w 5s -r 5s)
  sizes=()
  need_gib=60
fi
avail_gib=$(( $(df --output=avail -k "$data" | tail -n 1) / 1024 / 1024 ))
if ((avail_gib < need_gib)); then
  echo "store-bench.sh: $data has $avail_gib GiB free; the $mode run needs about $need_gib GiB" >&2
  exit 1
fi
mkdir -p "$out"
if [[ -n $tag ]]; then
  [[ $tag =~ ^[A-Za-z0-9_]+$ ]] || { echo "store-bench.sh: --tag takes letters, digits and _" >&2; exit 2; }
  prefix=store-$tag-
  machine=$out/machine-$tag.txt
  rm -f "$out/$prefix"*.json "$out/$prefix"*.log "$machine"
else
  prefix=store-
  machine=$out/machine.txt
  rm -f "$out"/store-*.json "$out"/store-*.log "$out"/store-summary.md "$out"/machine*.txt
fi

echo "store-bench.sh: building (mvn test-compile, class path)" >&2
mvn -B -q -DskipTests -pl tests -am test-compile dependency:build-classpath \
    -Dmdep.outputFile=target/bench-classpath.txt -Dmdep.includeScope=test
classpath=$root/tests/target/test-classes:$(cat "$root/tests/target/bench-classpath.txt")
jvm_args="-Xms2g -Xmx2g -Dcgw.bench.dir=$data -Dlogback.configurationFile=$root/bench/logback.xml"
jmh() {
  java -cp "$classpath" org.openjdk.jmh.Main "$@"
}

{
  echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "mode:     $mode ($(printf '%s ' "${timing[@]}"); single-threaded: $(printf '%s ' "${single_timing[@]}"))"
  echo "extra:    ${extra[*]:-none}"
  echo "commit:   $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (with local changes)')"
  echo "nproc:    $(nproc)"
  echo "cpu:      $(lscpu | sed -n 's/^Model name: *//p')"
  echo "memory:   $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "kernel:   $(uname -srm)"
  echo "load:     $(cut -d ' ' -f 1-3 /proc/loadavg) (1, 5, 15 min, at start)"
  echo "java:"
  java -version 2>&1 | sed 's/^/  /'
  echo "data dir: $data"
  df -hT "$data" | sed 's/^/  /'
  echo "disk:"
  lsblk -d -o NAME,ROTA,SIZE,MODEL 2>/dev/null | sed 's/^/  /' || true
} > "$machine"
cat "$machine" >&2

# Names matching both a group and --only; JMH treats each include as a regex found in the name.
include() {
  local group=$1
  if [[ -n $only ]]; then
    echo "^(?=.*(?:$group))(?=.*(?:$only))"
  else
    echo "$group"
  fi
}
has_benchmarks() {
  jmh -l "$1" | grep -q '^cgw\.bench\.'
}

results=()
run() {  # name include-regex jmh-args...
  local name=$1 regex=$2
  shift 2
  if ! has_benchmarks "$regex"; then
    echo "store-bench.sh: nothing of $name matches --only '$only'" >&2
    return
  fi
  echo "store-bench.sh: running $name" >&2
  jmh "$regex" "$@" "${sizes[@]}" -foe true -jvmArgsAppend "$jvm_args" \
      -rf json -rff "$out/$prefix$name.json" "${extra[@]}" 2>&1 | tee "$out/$prefix$name.log"
  results+=("$out/$prefix$name.json")
}

throughput=$(include 'cgw\.bench\.(StoreIo|FileIo|GcWrite)Benchmark\.')
for t in $threads; do
  run "t$t" "$throughput" -t "$t" "${timing[@]}"
done
run single "$(include 'cgw\.bench\.(Cut|GcReclaim)Benchmark\.')" -t 1 "${single_timing[@]}"

echo "load at end: $(cut -d ' ' -f 1-3 /proc/loadavg)" >> "$machine"
if [[ -n $tag ]]; then
  results=("$out"/store-*.json)
fi
if ((${#results[@]})); then
  python3 bench/summarize.py "${results[@]/#$root\//}" > "$out/store-summary.md"
  cat "$out/store-summary.md"
  echo "store-bench.sh: results in ${out#$root/}/" >&2
fi
