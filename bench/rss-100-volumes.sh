#!/usr/bin/env bash
# Peak RSS of `cgw serve` with its default settings and 100 volumes: 100 volumes are created,
# fio writes 4 KiB random and 1 MiB sequential to 20 of them at once, then reads them back;
# the gateway's VmHWM is the figure (issue target: under 1 GiB).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$root/bench/tmp/rss"
rm -rf "$work"; mkdir -p "$work"
nbd_port=10960; http_port=10961
"$root/cgw" serve --data "$work/data" --nbd 127.0.0.1:$nbd_port --http 127.0.0.1:$http_port > "$work/out" 2>&1 &
for _ in $(seq 1 240); do grep -q "API token" "$work/out" 2>/dev/null && break; sleep 0.5; done
pid=$(pgrep -f "cgw.jar serve --data $work/data")
token=$(cat "$work/data/api-token")
for i in $(seq 1 100); do
  curl -sf -H "Authorization: Bearer $token" -d "{\"name\":\"vm$i\",\"size\":\"1GiB\"}" \
      "http://127.0.0.1:$http_port/v1/volumes" > /dev/null
done
jobs=()
for i in $(seq 1 20); do
  jobs+=(--name="vm$i" --uri="nbd://127.0.0.1:$nbd_port/vm$i")
done
common=(--ioengine=nbd --size=1g --time_based --runtime=20 --output-format=terse)
fio --rw=randwrite --bs=4k --iodepth=16 "${common[@]}" "${jobs[@]}" > /dev/null
fio --rw=write --bs=1m --iodepth=4 "${common[@]}" "${jobs[@]}" > /dev/null
fio --rw=randread --bs=4k --iodepth=16 "${common[@]}" "${jobs[@]}" > /dev/null
hwm=$(awk '/VmHWM/ {print int($2 / 1024)}' /proc/$pid/status)
kill -TERM "$pid"; wait || true
echo "peak RSS of cgw serve with 100 volumes, 20 busy: ${hwm} MiB (target < 1024 MiB)"
