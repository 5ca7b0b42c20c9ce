#!/usr/bin/env python3
"""Aggregate benches/load.sh raw results into the median table and the ratios.

Input: a TSV with a header line and the columns
  round target conns rps p50_us p99_us requests cpu_ticks errors non2xx
(one line per wrk run). cpu_ticks are clock ticks (CLK_TCK, given with --clk-tck)
used by the measured server process(es) during that run.

Output: per (target, conns) the MEDIAN over rounds of requests/s, p50, p99 and
CPU µs per request (each metric's median taken independently), plus the error
total; then ratios of every gateway target against the nginx proxy (and, for
extra portcullis targets, against the plain route); then, when there are extra
portcullis targets, a table against the plain route (requests/s, p99 and CPU/request
ratios, and the extra CPU µs per request the route's authentication costs); then the
goals given with --goal, each checked at every connection count.

Every comparison of two targets is PAIRED: the ratio (or difference) is taken within
each round, between the two runs of that round, and the median of those per-round
values is shown. The machine's speed drifts over minutes (other tenants, turbo, page
cache), and one round runs its targets one after the other; a ratio of two medians
taken independently would compare runs that may be a round apart. load.sh runs the
targets in reverse order every other round, so that over an even number of rounds a
target runs as often before its reference as after it.

--goal "TARGET METRIC OP VALUE [label]": METRIC is one of rps, p99_ms, cpu (µs/request),
rps_vs_plain, p99_vs_plain, rps_vs_nginx, cpu_vs_plain (ratios), cpu_plus_plain (extra CPU
µs/request over the plain route), rps_vs=TARGET2 (requests/s relative to another measured
target, e.g. rps_vs=portcullis-session), cpu_plus=TARGET2 (extra CPU µs/request over
another target); OP is <= or >=. Relative metrics are paired.
"""

import argparse
import re
import csv
import statistics
import sys
from collections import OrderedDict, defaultdict

REFERENCE = "direct"  # the upstream itself, no proxy
BASELINE = "nginx"  # nginx as a plain reverse proxy
PLAIN = "portcullis"  # portcullis plain route


def fmt_ms(us):
    return f"{us / 1000:.3f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tsv")
    ap.add_argument("--clk-tck", type=int, default=100)
    ap.add_argument("--goal", action="append", default=[],
                    help='"TARGET METRIC OP VALUE [label]", e.g. "portcullis-jwt cpu <= 40"')
    args = ap.parse_args()

    runs = defaultdict(list)  # (target, conns) -> [row]
    targets, conns_seen = OrderedDict(), OrderedDict()
    with open(args.tsv, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            key = (row["target"], int(row["conns"]))
            targets[row["target"]] = None
            conns_seen[int(row["conns"])] = None
            runs[key].append(row)
    if not runs:
        print("no results", file=sys.stderr)
        return 1

    med = {}
    for key, rows in runs.items():
        rps = [float(r["rps"]) for r in rows]
        p50 = [float(r["p50_us"]) for r in rows]
        p99 = [float(r["p99_us"]) for r in rows]
        cpu = []
        for r in rows:
            n = int(r["requests"])
            if n > 0:
                cpu.append(int(r["cpu_ticks"]) * 1e6 / args.clk_tck / n)
        med[key] = {
            "rps": statistics.median(rps),
            "p50": statistics.median(p50),
            "p99": statistics.median(p99),
            "cpu": statistics.median(cpu) if cpu else None,
            "err": sum(int(r["errors"]) + int(r["non2xx"]) for r in rows),
            "n": len(rows),
        }

    print(f"Median of rounds (CPU/req = server process CPU time / requests completed;"
          f" for '{REFERENCE}' it is the upstream nginx itself)")
    hdr = f"{'target':<26} {'conns':>5} {'req/s':>10} {'p50 ms':>9} {'p99 ms':>9} {'CPU us/req':>11} {'errors':>7} {'runs':>4}"
    print(hdr)
    print("-" * len(hdr))
    for c in conns_seen:
        for t in targets:
            m = med.get((t, c))
            if not m:
                continue
            cpu = f"{m['cpu']:.1f}" if m["cpu"] is not None else "n/a"
            print(f"{t:<26} {c:>5} {m['rps']:>10.0f} {fmt_ms(m['p50']):>9} {fmt_ms(m['p99']):>9}"
                  f" {cpu:>11} {m['err']:>7} {m['n']:>4}")
        print()

    def paired(t, base, c, fn):
        """Median over the rounds holding both runs of fn(run of t, run of base)."""
        mine = {r["round"]: r for r in runs.get((t, c), [])}
        vals = [fn(mine[r["round"]], r) for r in runs.get((base, c), []) if r["round"] in mine]
        vals = [v for v in vals if v is not None]
        return statistics.median(vals) if vals else None

    def cpu_of(r):
        n = int(r["requests"])
        return int(r["cpu_ticks"]) * 1e6 / args.clk_tck / n if n > 0 else None

    def rel(field):
        def f(a, b):
            x, y = (cpu_of(a), cpu_of(b)) if field == "cpu" else (float(a[field]), float(b[field]))
            return x / y if (x is not None and y) else None
        return f

    def cpu_diff(a, b):
        x, y = cpu_of(a), cpu_of(b)
        return x - y if (x is not None and y is not None) else None

    def pr(v):
        return f"{v:.2f}x" if v is not None else "n/a"

    gateways = [t for t in targets if t not in (REFERENCE, BASELINE)]
    if BASELINE in targets and gateways:
        print(f"Ratios against the nginx proxy, paired per round (target: rps >= 1.00x, p99 <= 1.20x, CPU/req <= 1.00x)")
        hdr = f"{'target':<26} {'conns':>5} {'rps':>8} {'p99':>8} {'CPU/req':>8} {'nginx/direct rps':>17} {'rps vs plain':>13}"
        print(hdr)
        print("-" * len(hdr))
        for c in conns_seen:
            b = med.get((BASELINE, c))
            d = med.get((REFERENCE, c))
            p = med.get((PLAIN, c))
            for t in gateways:
                m = med.get((t, c))
                if not m or not b:
                    continue
                vs_plain = pr(paired(t, PLAIN, c, rel("rps"))) if (p and t != PLAIN) else "-"
                nd = pr(paired(BASELINE, REFERENCE, c, rel("rps"))) if d else "n/a"
                print(f"{t:<26} {c:>5} {pr(paired(t, BASELINE, c, rel('rps'))):>8}"
                      f" {pr(paired(t, BASELINE, c, rel('p99_us'))):>8}"
                      f" {pr(paired(t, BASELINE, c, rel('cpu'))):>8} {nd:>17} {vs_plain:>13}")

    extras = [t for t in targets if t.startswith(PLAIN + "-")]
    if PLAIN in targets and extras:
        print()
        print(f"Against the plain route '{PLAIN}', paired per round (+CPU = extra CPU us/request of the route's auth)")
        hdr = f"{'target':<26} {'conns':>5} {'rps':>8} {'p99':>8} {'CPU/req':>8} {'+CPU us':>8}"
        print(hdr)
        print("-" * len(hdr))
        for c in conns_seen:
            p = med.get((PLAIN, c))
            for t in extras:
                m = med.get((t, c))
                if not m or not p:
                    continue
                d = paired(t, PLAIN, c, cpu_diff)
                extra = f"{d:+.1f}" if d is not None else "n/a"
                print(f"{t:<26} {c:>5} {pr(paired(t, PLAIN, c, rel('rps'))):>8}"
                      f" {pr(paired(t, PLAIN, c, rel('p99_us'))):>8}"
                      f" {pr(paired(t, PLAIN, c, rel('cpu'))):>8} {extra:>8}")

    if args.goal:
        print()
        print("Goals (median of rounds, per connection count)")
        for spec in args.goal:
            g = re.match(r"\s*(\S+)\s+(\w+(?:=\S+)?)\s*(<=|>=)\s*([0-9.]+)\s*(.*)$", spec)
            if not g:
                print(f"  bad --goal {spec!r}", file=sys.stderr)
                return 2
            t, metric, op, want, label = g.group(1), g.group(2), g.group(3), float(g.group(4)), g.group(5)
            if t not in targets:
                print(f"  {label or spec}: target {t} not measured")
                continue
            cells = []
            for c in conns_seen:
                v = goal_value(med, paired, rel, cpu_diff, t, c, metric)
                if v is None:
                    cells.append(f"c={c}: n/a")
                    continue
                ok = v <= want if op == "<=" else v >= want
                cells.append(f"c={c}: {v:.2f} {'ok' if ok else 'MISSED'}")
            print(f"  {label or t + ' ' + metric}  [{metric} {op} {want:g}]")
            print(f"      {t}: " + "   ".join(cells))
    return 0


def goal_value(med, paired, rel, cpu_diff, target, conns, metric):
    """The metric's value: absolute ones from the medians, relative ones paired per round."""
    m = med.get((target, conns))
    if not m:
        return None
    if metric == "rps":
        return m["rps"]
    if metric == "p99_ms":
        return m["p99"] / 1000
    if metric == "cpu":
        return m["cpu"]
    if metric == "rps_vs_plain":
        return paired(target, PLAIN, conns, rel("rps"))
    if metric == "p99_vs_plain":
        return paired(target, PLAIN, conns, rel("p99_us"))
    if metric == "cpu_plus_plain":
        return paired(target, PLAIN, conns, cpu_diff)
    if metric == "rps_vs_nginx":
        return paired(target, BASELINE, conns, rel("rps"))
    if metric.startswith("rps_vs="):
        return paired(target, metric[len("rps_vs="):], conns, rel("rps"))
    if metric.startswith("cpu_plus="):
        return paired(target, metric[len("cpu_plus="):], conns, cpu_diff)
    if metric == "cpu_vs_plain":
        return paired(target, PLAIN, conns, rel("cpu"))
    raise SystemExit(f"unknown goal metric {metric!r}")


if __name__ == "__main__":
    sys.exit(main())
