"""Follow a landscape through ``sd.predict``: which modules it enters, how often, and how often it climbs back up.

A *stop* is a call from one ``sgd_diagrams`` module into another; a *place* is a module; a *climb back up* is a
stop whose callee sits in a higher layer than its caller (layers as in ``tests/test_architecture.py``: e.g. a
``theory`` function calling an evaluator handed down from ``estimation``); a *return* is a stop into a place
already left.  Each is counted per call and as distinct (caller, callee) pairs.
Module-level code and Python's own frames are not counted, so the numbers describe the call path only::

    PYTHONPATH=src OMP_NUM_THREADS=1 python tools/trace_predict_path.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter

LAYERS = {
    "errors": 0, "catalog": 0, "data": 0, "io": 0.5, "limits": 0.5, "backends": 0.5, "options": 0.6, "diagrams": 1,
    "schedules": 2,
    "drawing": 3, "values": 3, "theory": 4, "landscapes": 5, "optimizers": 6, "estimation": 7, "api": 8,
    "comparison": 8.05, "plots": 8.1, "what_if": 8.25, "__init__": 8.5, "experiments": 9, "cli": 10,
}


def _layer(module: str) -> float:
    parts = module.split(".")
    return LAYERS.get(parts[1], LAYERS["__init__"]) if len(parts) > 1 else LAYERS["__init__"]


def trace(fn) -> dict:
    """Run ``fn()`` and count the stops, places, climbs and returns of its path through ``sgd_diagrams``."""
    stack: list[str] = []
    stops: list[tuple[str, str]] = []

    def tracer(frame, event, arg):
        if event == "call":
            module = frame.f_globals.get("__name__", "")
            if not module.startswith("sgd_diagrams") or frame.f_code.co_name == "<module>":
                stack.append("")
                return tracer
            caller = next((m for m in reversed(stack) if m), None)
            if caller is not None and caller != module:
                stops.append((caller, module))
            stack.append(module)
            return tracer
        if event == "return" and stack:
            stack.pop()
        return tracer

    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(None)
    entered = Counter(callee for _, callee in stops)
    left: set[str] = set()
    returns = 0
    for caller, callee in stops:
        if callee in left:
            returns += 1
        left.add(caller)
    climbs = [(a, b) for a, b in stops if _layer(b) > _layer(a)]
    packages = Counter(callee.split(".")[1] if "." in callee else callee for _, callee in stops)
    return {"stops": len(stops), "places": len(entered), "climbs_back_up": len(climbs),
            "distinct_stops": len(set(stops)), "distinct_climbs": len(set(climbs)),
            "returns_to_a_place_left": returns, "climbs": sorted(Counter(f"{a} -> {b}" for a, b in climbs).items()),
            "entered_by_module": dict(entered.most_common()), "entered_by_package": dict(packages.most_common())}


def scenarios() -> dict:
    import sgd_diagrams as sd
    from sgd_diagrams.landscapes import example_landscape
    from sgd_diagrams.schedules import sgd

    land = example_landscape()
    schedule = sgd(100, 1, 1)

    def call(method: str, resummation: str | None):
        kwargs = {"samples": 400, "seed": 0}
        if resummation:
            kwargs["resummation"] = resummation
        if hasattr(sd, "Sampling"):  # the front door with two small dataclasses
            return lambda: sd.predict(land, schedule, 3, [0.001, 0.005], "test-loss", method,
                                      sampling=sd.Sampling(**kwargs))
        return lambda: sd.predict(land, schedule, 3, [0.001, 0.005], "test-loss", method, **kwargs)

    return {"estimated taylor": call("taylor", None), "estimated resummed (dense)": call("resummed", "dense"),
            "estimated resummed (matrix-free)": call("resummed", "matrix-free")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="every count, per module and package")
    args = parser.parse_args()
    out = {}
    for name, fn in scenarios().items():
        fn()  # warm caches and imports so that the path, not first-time setup, is counted
        out[name] = trace(fn)
    if args.json:
        print(json.dumps(out, indent=1))
        return
    for name, r in out.items():
        print(f"{name}: places {r['places']}, stops {r['stops']} ({r['distinct_stops']} distinct), climbs back up "
              f"{r['climbs_back_up']} ({r['distinct_climbs']} distinct), returns to a place left "
              f"{r['returns_to_a_place_left']}; entered by package {r['entered_by_package']}")
        for climb, n in r["climbs"]:
            print(f"    climb x{n}: {climb}")


if __name__ == "__main__":
    main()
