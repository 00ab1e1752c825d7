#!/usr/bin/env python3
"""Checks an auraio metrics exposition with a real OpenMetrics parser (prometheus_client).

usage: check_metrics.py [URL] --expect NAME:TYPE ...   (exposition on stdin without URL)

Every expected family must be present with its type; histogram buckets must be cumulative and
end with +Inf equal to the count; no sample may be NaN or infinite. Exits non-zero on failure.
"""
import math
import sys
import urllib.request

from prometheus_client.openmetrics.parser import text_string_to_metric_families


def main(argv):
    url = None
    expect = []
    it = iter(argv)
    for a in it:
        if a == "--expect":
            continue
        if ":" in a and not a.startswith("http"):
            expect.append(tuple(a.split(":", 1)))
        else:
            url = a
    if url:
        with urllib.request.urlopen(url, timeout=10) as r:
            ctype = r.headers.get("Content-Type", "")
            text = r.read().decode()
        if "openmetrics" not in ctype and "text/plain" not in ctype:
            sys.exit(f"unexpected content type {ctype!r}")
    else:
        text = sys.stdin.read()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    errors = []
    for name, typ in expect:
        f = families.get(name)
        if f is None:
            errors.append(f"missing {name}")
        elif f.type != typ:
            errors.append(f"{name}: type {f.type}, expected {typ}")
    for f in families.values():
        for s in f.samples:
            if math.isnan(s.value) or math.isinf(s.value):
                errors.append(f"{s.name}{s.labels}: {s.value}")
        if f.type == "histogram":
            by_ring = {}
            for s in f.samples:
                key = s.labels.get("ring")
                by_ring.setdefault(key, {"buckets": [], "count": None})
                if s.name.endswith("_bucket"):
                    by_ring[key]["buckets"].append((float(s.labels["le"]), s.value))
                elif s.name.endswith("_count"):
                    by_ring[key]["count"] = s.value
            for ring, h in by_ring.items():
                b = sorted(h["buckets"])
                if not b or not math.isinf(b[-1][0]):
                    errors.append(f"{f.name} ring {ring}: no +Inf bucket")
                    continue
                if any(x[1] > y[1] for x, y in zip(b, b[1:])):
                    errors.append(f"{f.name} ring {ring}: buckets not cumulative")
                if b[-1][1] != h["count"]:
                    errors.append(f"{f.name} ring {ring}: +Inf {b[-1][1]} != count {h['count']}")
    if errors:
        sys.exit("metrics check failed:\n  " + "\n  ".join(errors))
    print(f"metrics ok: {len(families)} families, {len(expect)} expected present")


if __name__ == "__main__":
    main(sys.argv[1:])
