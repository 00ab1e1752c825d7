#!/usr/bin/env python3
"""Parses an OTLP/JSON metrics document (stdin) with the OTLP protobuf definitions
(opentelemetry-proto) and checks it: expected metrics present with their data kind,
histogram bucket counts adding up to the count, no NaN/Inf.

usage: check_otlp.py NAME:KIND ...   (KIND: sum, gauge, histogram)
"""
import math
import sys

from google.protobuf.json_format import Parse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)


def main(argv):
    req = Parse(sys.stdin.read(), ExportMetricsServiceRequest())  # strict: unknown fields fail
    metrics = {}
    for rm in req.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                metrics[m.name] = m
    errors = []
    for spec in argv:
        name, kind = spec.split(":", 1)
        m = metrics.get(name)
        if m is None:
            errors.append(f"missing {name}")
            continue
        if m.WhichOneof("data") != kind:
            errors.append(f"{name}: {m.WhichOneof('data')}, expected {kind}")
    for m in metrics.values():
        kind = m.WhichOneof("data")
        for p in getattr(m, kind).data_points:
            if kind == "histogram":
                if sum(p.bucket_counts) != p.count:
                    errors.append(f"{m.name}: buckets add to {sum(p.bucket_counts)}, count {p.count}")
                if len(p.bucket_counts) != len(p.explicit_bounds) + 1:
                    errors.append(f"{m.name}: {len(p.bucket_counts)} buckets for {len(p.explicit_bounds)} bounds")
                vals = [p.sum]
            else:
                vals = [p.as_double]
            if any(math.isnan(v) or math.isinf(v) for v in vals):
                errors.append(f"{m.name}: non-finite value")
    if errors:
        sys.exit("OTLP check failed:\n  " + "\n  ".join(errors))
    print(f"otlp ok: {len(metrics)} metrics")


if __name__ == "__main__":
    main(sys.argv[1:])
