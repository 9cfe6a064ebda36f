#!/usr/bin/env python3
"""Summarises PIT's reports (MODULE/target/pit-reports/mutations.xml, from `mvn -P mutation verify`)
as markdown: the score per module and per class, and the mutants that survived, by class and line.

Usage: bench/mutation_summary.py [--out bench/results] MODULE [MODULE ...]
"""
import argparse
import collections
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load(module):
    report = ROOT / module / "target" / "pit-reports" / "mutations.xml"
    if not report.exists():
        raise SystemExit(f"{report} is missing: run mvn -P mutation verify -pl {module} -am first")
    return ET.parse(report).getroot().findall("mutation")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("modules", nargs="+")
    args = parser.parse_args()
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    lines = [f"# Mutation testing ({time.strftime('%Y-%m-%d %H:%M')}, commit {commit}, PIT with its default mutators)",
             "", "Killed: a test failed (or timed out, or ran out of memory) with the mutant; score = killed / all,",
             "mutants no test covers included.", "",
             "| module | mutants | killed | survived | no coverage | score |", "|---|---|---|---|---|---|"]
    details = []
    for module in args.modules:
        mutations = load(module)
        status = collections.Counter(m.get("status") for m in mutations)
        killed = status["KILLED"] + status["TIMED_OUT"] + status["MEMORY_ERROR"] + status["RUN_ERROR"]
        total = len(mutations)
        lines.append(f"| {module} | {total} | {killed} | {status['SURVIVED']} | {status['NO_COVERAGE']} | "
                     f"{100 * killed / max(total, 1):.0f}% |")
        by_class = collections.defaultdict(list)
        for m in mutations:
            by_class[m.findtext("mutatedClass").split("$")[0]].append(m)
        details += ["", f"## {module}", "", "| class | mutants | score | survived or not covered (line: mutator) |",
                    "|---|---|---|---|"]
        for cls, ms in sorted(by_class.items()):
            alive = [m for m in ms if m.get("status") in ("SURVIVED", "NO_COVERAGE")]
            score = 100 * (len(ms) - len(alive)) / len(ms)
            where = ", ".join(f"{m.findtext('lineNumber')}: {m.findtext('mutator').rsplit('.', 1)[-1]}"
                              for m in sorted(alive, key=lambda m: int(m.findtext("lineNumber"))))
            details.append(f"| {cls.rsplit('.', 1)[-1]} | {len(ms)} | {score:.0f}% | {where} |")
    report = "\n".join(lines + details) + "\n"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"mutation-{time.strftime('%Y%m%d-%H%M')}.md"
    path.write_text(report)
    print(report)
    print(f"written to {path}")


if __name__ == "__main__":
    main()
