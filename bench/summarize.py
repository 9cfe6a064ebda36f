#!/usr/bin/env python3
"""Puts each store benchmark's figure beside its peer from the same run, as a ratio.

Usage: summarize.py RESULT.json... > store-summary.md

Reads the JSON that JMH writes with -rf json. A figure is the median over forks (runs) of each
fork's own figure: the mean of its iterations for throughput and single-shot benchmarks, the
percentile of its samples for sample-time ones. Peers (see bench/README.md):

  StoreIoBenchmark.M            FileIoBenchmark.M, same threads and sizes: a plain file, same disk
  GcWriteBenchmark (gc on)      the same with backgroundGc=false
  GcReclaimBenchmark.collect    GcReclaimBenchmark.overwrite: the writer that made the garbage
  CutBenchmark.cut (N MiB)      the same with the fewest MiB written: a cut must not grow with it

Throughput ratios are ours / peer (1.0 = as fast as the peer); the cut's ratio is latency / peer
latency (the target is at most 2).
"""
import json
import statistics
import sys

STORE_PARAMS = ("blockSizeBytes", "layout")  # layout: in results of runs before the value log was the only one
PARAM_ORDER = ("blockSizeBytes", "layout", "backgroundGc", "ioSizeBytes", "volumeMiB",
               "cachedDatasetMiB", "uncachedDatasetMiB", "sequentialDatasetMiB", "writtenMiB",
               "gcVolumeMiB", "overwrittenPercent", "cutIntervalMs")
# (benchmark suffix, threads) -> (minimum ops/s, text)
THROUGHPUT_TARGETS = {
    ("StoreIoBenchmark.write4k", 8): (100_000, ">= 100k 4 KiB random writes/s, 8 threads"),
    ("StoreIoBenchmark.readCached4k", 8): (200_000, ">= 200k cached 4 KiB random reads/s, 8 threads"),
}
CUT_MEDIAN_TARGET_US = 100
CUT_SCALING_TARGET = 2.0


class Result:
    def __init__(self, record):
        self.benchmark = record["benchmark"].removeprefix("cgw.bench.")
        self.mode = record["mode"]
        self.threads = record["threads"]
        self.params = record.get("params", {})
        self.forks = record["forks"]
        metric = record["primaryMetric"]
        self.unit = metric["scoreUnit"]
        if self.mode == "sample":
            per_fork = [merged(fork) for fork in metric["rawDataHistogram"]]
            self.p50 = statistics.median(percentile(fork, 0.50) for fork in per_fork)
            self.p99 = statistics.median(percentile(fork, 0.99) for fork in per_fork)
            self.value = self.p50
        else:
            self.value = statistics.median(statistics.fmean(fork) for fork in metric["rawData"])
        if self.benchmark.startswith("GcReclaimBenchmark."):
            # single shots of ms per pass -> block versions per second; the size as GcReclaimBenchmark computes it
            overwritten_mib = int(self.params["gcVolumeMiB"]) * int(self.params["overwrittenPercent"]) // 100
            versions = overwritten_mib * 2**20 / int(self.params["blockSizeBytes"])
            self.value = versions / (self.value / 1000.0)
            self.unit = "versions/s"

    def key(self, benchmark=None, threads=None, **changes):
        params = dict(self.params)
        for name, value in changes.items():
            if value is None:
                params.pop(name, None)
            else:
                params[name] = value
        return (benchmark or self.benchmark, threads or self.threads, tuple(sorted(params.items())))

    def shown(self):
        if self.mode == "sample":
            return f"p50 {self.p50:,.1f} / p99 {self.p99:,.1f} {self.unit}"
        return f"{self.value:,.0f} {self.unit}"

    def shown_params(self):
        names = sorted(self.params, key=lambda n: (PARAM_ORDER.index(n) if n in PARAM_ORDER else 99, n))
        return " ".join(f"{name}={self.params[name]}" for name in names)


def merged(iterations):
    """One fork's histogram: [[value, count], ...] summed over its iterations, sorted by value."""
    counts = {}
    for iteration in iterations:
        for value, count in iteration:
            counts[value] = counts.get(value, 0) + count
    return sorted(counts.items())


def percentile(histogram, fraction):
    total = sum(count for _, count in histogram)
    rank = fraction * total
    seen = 0
    for value, count in histogram:
        seen += count
        if seen >= rank:
            return value
    return histogram[-1][0]


def peer_key(result, by_key):
    """The key of the result's peer, or None when it has none (or is itself a peer)."""
    name = result.benchmark
    if name.startswith("StoreIoBenchmark."):
        return result.key("FileIoBenchmark." + name.split(".", 1)[1], **{p: None for p in STORE_PARAMS})
    if name == "GcWriteBenchmark.write4k" and result.params.get("backgroundGc") == "true":
        return result.key(backgroundGc="false")
    if name == "GcReclaimBenchmark.collect":
        return result.key("GcReclaimBenchmark.overwrite")
    if name == "CutBenchmark.cut":
        sizes = sorted(int(r.params["writtenMiB"]) for r in by_key.values()
                       if r.benchmark == name and r.threads == result.threads)
        if sizes and int(result.params["writtenMiB"]) != sizes[0]:
            return result.key(writtenMiB=str(sizes[0]))
    return None


def is_peer_only(result):
    return (result.benchmark.startswith("FileIoBenchmark.")
            or result.benchmark == "GcReclaimBenchmark.overwrite"
            or (result.benchmark == "GcWriteBenchmark.write4k" and result.params.get("backgroundGc") == "false"))


def target(result, ratio):
    """(text, met) of the issue's target this result answers, or None."""
    goal = THROUGHPUT_TARGETS.get((result.benchmark, result.threads))
    if goal:
        return goal[1], result.value >= goal[0]
    if result.benchmark == "CutBenchmark.cut":
        met = result.p50 < CUT_MEDIAN_TARGET_US and (ratio is None or ratio <= CUT_SCALING_TARGET)
        text = f"median < {CUT_MEDIAN_TARGET_US} us" + ("" if ratio is None else f", <= {CUT_SCALING_TARGET:g}x the smallest volume")
        return text, met
    return None


def main(paths):
    by_key = {}
    settings = set()
    for path in paths:
        with open(path) as f:
            for record in json.load(f):
                result = Result(record)
                by_key[result.key()] = result
                settings.add((record["forks"], record["warmupIterations"], record["warmupTime"],
                              record["measurementIterations"], record["measurementTime"]))
    rows = []
    targets = []
    for result in sorted(by_key.values(), key=lambda r: (r.benchmark, r.threads, r.shown_params())):
        if is_peer_only(result):
            continue
        key = peer_key(result, by_key)
        peer = by_key.get(key) if key else None
        ratio = result.value / peer.value if peer and peer.value else None
        goal = target(result, ratio)
        peer_name = f"{peer.benchmark} {peer.shown_params()}".strip() if peer else ("missing" if key else "—")
        rows.append([result.benchmark, result.shown_params(), str(result.threads), str(result.forks),
                     result.shown(), peer_name, peer.shown() if peer else "—",
                     f"{ratio:.2f}" if ratio is not None else "—",
                     ("met: " if goal[1] else "MISSED: ") + goal[0] if goal else ""])
        if goal:
            targets.append(f"- {'met' if goal[1] else '**MISSED**'}: {goal[0]}: {result.benchmark} "
                           f"{result.shown_params()}, {result.threads} threads: {result.shown()}")

    out = ["# Store benchmarks: each figure beside its peer", ""]
    out.append("Inputs: " + ", ".join(f"`{p}`" for p in paths) + ". Machine: `machine.txt` (and `machine-TAG.txt` for runs added with `--tag`) beside this file.")
    for forks, wi, wt, mi, mt in sorted(settings):
        out.append(f"JMH: {forks} fork(s), {wi} warmup x {wt}, {mi} measured x {mt}.")
    out += ["", "Figures are medians over forks (runs). Ratio: store / peer for throughput (1.00 = as fast as the "
            "peer); for the cut, its median latency / the smallest volume's. See bench/README.md.", ""]
    if targets:
        out += ["## Targets (issue)", ""] + targets + [""]
    out += ["## All results", ""]
    header = ["benchmark", "params", "threads", "runs", "result", "peer", "peer result", "ratio", "target"]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "---|" * len(header))
    out += ["| " + " | ".join(row) + " |" for row in rows]
    print("\n".join(out))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
