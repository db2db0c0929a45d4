"""The ``sgd-diagrams`` command.

Subcommands (``sgd-diagrams <command> --help`` for details):

* ``enumerate`` — list diagrams with d edges of a kind (test, train, displacement);
* ``series`` — Taylor coefficients of E[test loss | train loss | gen gap | displacement];
* ``predict`` — Taylor, resummed, continuous-time or T → ∞ predictions at given η;
* ``coefficients`` — symbolic Taylor coefficients for in-order SGD (N, B, E) or GD (N, T);
* ``draw`` — pictures of diagrams and of histories in their grid;
* ``stats`` — named landscape statistics (G·ηG, tr(CηHη), …) estimated from samples, with errors;
* ``simulate`` — SGD and its rivals over thousands of vectorized trials, with CIs;
* ``demo`` — the main job on the built-in example: diagrams, series, and the
  Taylor polynomial beside the exact expectation of SGD.

Errors print one line to stderr and exit with status 2 (no traceback; set
``SGD_DIAGRAMS_DEBUG=1`` to see one).
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import resources
from pathlib import Path

import numpy as np

from . import __version__
from .errors import SgdDiagramsError
from .io import emit

__all__ = ["main", "build_parser", "load_landscape_spec", "load_schedule_spec"]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


# -- shared loaders ---------------------------------------------------------------------------
def load_landscape_spec(spec: str | None):
    """A landscape from a JSON file path, ``example`` (bundled), or a built-in name."""
    from .landscapes import landscape_from_json, load_landscape_file

    if spec is None or spec == "example":
        import json

        text = resources.files("sgd_diagrams.data").joinpath("example.json").read_text()
        return landscape_from_json(json.loads(text), name="example")
    if Path(spec).exists() or spec.endswith(".json"):
        return load_landscape_file(spec)
    from .landscapes.registry import resolve_landscape

    name, _, rest = spec.partition(":")
    params: dict[str, float] = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        try:
            params[key.strip()] = float(value)
        except ValueError:
            raise SgdDiagramsError(f"bad landscape parameter {item!r}; write e.g. mean-estimation:H=2,S=1") from None
        if not eq:
            raise SgdDiagramsError(f"bad landscape parameter {item!r}; write e.g. mean-estimation:H=2,S=1")
    return resolve_landscape(name, **params)


def load_schedule_spec(grid: str | None, schedule: str | None):
    """A schedule from ``--grid G.json`` or ``--schedule sgd:N=..,B=..,E=..``."""
    from .schedules import load_schedule, parse_schedule_spec

    if grid and schedule:
        raise SgdDiagramsError("give either --grid or --schedule, not both")
    if grid:
        return load_schedule(grid)
    if schedule:
        return parse_schedule_spec(schedule)
    raise SgdDiagramsError("no schedule: give --grid G.json or --schedule sgd:N=10,B=1,E=1")


QUANTITY_CHOICES = ("test-loss", "train-loss", "gen-gap", "displacement", "test-loss-variance")


def _emit(args: argparse.Namespace, payload: dict, table: str) -> None:
    emit(payload, table, args.json, getattr(args, "out", None))


def _fmt(x: float) -> str:
    return f"{x: .10g}"


# -- enumerate ---------------------------------------------------------------------------------
def _cmd_enumerate(args: argparse.Namespace) -> int:
    from .diagrams import enumerate_diagrams
    from .schedules.histories import history_count

    diagrams = enumerate_diagrams(args.edges, args.kind, linkless=args.linkless)
    schedule = load_schedule_spec(args.grid, None) if args.grid else None
    rows = []
    for d in diagrams:
        count = history_count(d, schedule) if schedule is not None else None
        if schedule is not None and count == 0:
            continue
        row = {"notation": str(d), "edges": d.n_edges, "parts": d.n_parts, "automorphisms": d.automorphisms}
        if count is not None:
            row["histories"] = count
        rows.append(row)
    payload = {"count": len(rows), "diagrams": rows}
    lines = [f"{len(rows)} {args.kind} diagram(s) with {args.edges} edge(s)"
             + (" (linkless)" if args.linkless else "")
             + (f" having histories in {schedule}" if schedule is not None else "")]
    header = f"{'notation':<24}{'edges':>6}{'parts':>6}{'|Aut|':>7}" + ("   histories" if schedule else "")
    lines.append(header)
    for r in rows:
        line = f"{r['notation']:<24}{r['edges']:>6}{r['parts']:>6}{r['automorphisms']:>7}"
        if schedule is not None:
            line += f"   {r['histories']:.10g}"
        lines.append(line)
    _emit(args, payload, "\n".join(lines))
    return 0


# -- series -------------------------------------------------------------------------------------
def _metric(text: str | None):
    if text is None:
        return None
    try:
        rows = [[float(x) for x in row.split(",")] for row in text.split(";")]
        m = np.array(rows, dtype=np.float64)
    except ValueError:
        raise SgdDiagramsError("--metric must look like '1,0;0,2' (rows separated by ';')") from None
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise SgdDiagramsError("--metric must be a square matrix like '1,0;0,2'")
    return m


def _cmd_series(args: argparse.Namespace) -> int:
    from .theory import taylor_series

    landscape = theory_landscape(load_landscape_spec(args.landscape))
    schedule = load_schedule_spec(args.grid, args.schedule)
    if args.quantity == "test-loss-variance":
        from .theory.variance import test_loss_variance_coefficients

        if args.terms or args.metric:
            raise SgdDiagramsError("test-loss-variance does not support --terms or --metric")
        coeffs = test_loss_variance_coefficients(landscape, schedule, args.order)
        series = None
    else:
        series = taylor_series(landscape, schedule, args.order, args.quantity, metric=_metric(args.metric))
        coeffs = [np.asarray(c).tolist() for c in series.coefficients]
    payload = {"quantity": args.quantity, "order": args.order, "coefficients": coeffs}
    lines = [f"E[{args.quantity}] = Σ_k c_k η^k + o(η^{args.order})   landscape={landscape.name}  {schedule}"]
    for k, c in enumerate(coeffs):
        shown = "[" + ", ".join(_fmt(x) for x in c) + "]" if isinstance(c, list) else _fmt(c)
        lines.append(f"  c_{k} = {shown}")
    if args.terms and series is not None:
        lines.append("")
        lines.append(f"{'diagram':<24}{'edges':>6}{'histories':>16}   uvalue")
        for term in series.terms:
            u = term.uvalue
            shown = "[" + ", ".join(_fmt(x) for x in np.ravel(u)) + "]" if np.ndim(u) else _fmt(u)
            lines.append(f"{str(term.diagram):<24}{term.diagram.n_edges:>6}{term.count:>16.10g}   {shown}")
        payload["terms"] = [
            {"notation": str(t.diagram), "edges": t.diagram.n_edges, "histories": t.count,
             "uvalue": np.asarray(t.uvalue).tolist()}
            for t in series.terms
        ]
    _emit(args, payload, "\n".join(lines))
    return 0


# -- predict -------------------------------------------------------------------------------------
def _etas(text: str) -> np.ndarray:
    try:
        etas = np.array([float(x) for x in text.split(",") if x.strip()], dtype=np.float64)
    except ValueError:
        raise SgdDiagramsError(f"--eta must be comma-separated numbers like 0.01,0.05, got {text!r}") from None
    if etas.size == 0 or not np.all(np.isfinite(etas)):
        raise SgdDiagramsError("--eta needs at least one finite number, e.g. --eta 0.01,0.05")
    return etas


def _cmd_predict(args: argparse.Namespace) -> int:
    import warnings

    from .theory import taylor_series
    from .theory.resummation import resummed_prediction

    if args.samples is not None:
        from .commands.estimate import run_estimated_predict

        return run_estimated_predict(args)
    landscape = theory_landscape(load_landscape_spec(args.landscape))
    schedule = load_schedule_spec(args.grid, args.schedule)
    etas = _etas(args.eta)
    metric = _metric(args.metric)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        if args.quantity == "test-loss-variance":
            from .theory.variance import test_loss_variance

            if args.continuous or metric is not None:
                raise SgdDiagramsError("test-loss-variance supports --resum or Taylor, without --continuous/--metric")
            values = test_loss_variance(landscape, schedule, args.order, etas, resum=args.resum)
        elif args.limit:
            from .theory.limits import resummed_limit

            values, reached = resummed_limit(landscape, schedule, args.order, etas, args.quantity, family=args.limit)
        elif args.resum or args.continuous:
            values = resummed_prediction(landscape, schedule, args.order, etas, args.quantity, metric=metric,
                                         continuous=args.continuous).value
        else:
            values = taylor_series(landscape, schedule, args.order, args.quantity, metric=metric)(etas)
    for w in caught:
        print(f"sgd-diagrams: warning: {w.message}", file=sys.stderr)
    if not np.all(np.isfinite(values)):
        raise SgdDiagramsError("prediction is not finite: eta is too large for the series; use a smaller eta")
    form = "continuous-time resummed" if args.continuous else ("resummed" if args.resum else "Taylor")
    if args.limit:
        form = f"resummed T->infinity ({args.limit}; converged by T={reached})"
    payload = {"quantity": args.quantity, "order": args.order, "form": form,
               "eta": etas.tolist(), "value": np.asarray(values).tolist()}
    lines = [f"{form} order-{args.order} prediction of E[{args.quantity}]   landscape={landscape.name}  {schedule}",
             f"{'eta':>10}   value"]
    for eta, v in zip(etas, values, strict=True):
        shown = "[" + ", ".join(_fmt(x) for x in np.ravel(v)) + "]" if np.ndim(v) else _fmt(v)
        lines.append(f"{eta:>10.6g}   {shown}")
    _emit(args, payload, "\n".join(lines))
    return 0


def theory_landscape(landscape):
    """The finite-support form the exact theory needs (built-ins expose ``to_finite``)."""
    if hasattr(landscape, "derivative_tensors"):
        return landscape
    if hasattr(landscape, "to_finite"):
        # Gauss–Hermite nodes: 8 nodes integrate polynomials in x of degree ≤ 15 exactly, enough
        # for every cumulant of the built-ins' x-polynomial losses through order 6.
        return landscape.to_finite(n_nodes=8)
    raise SgdDiagramsError(
        f"landscape {getattr(landscape, 'name', landscape)!r} has no exact theory form; "
        "estimate its diagram values from samples instead"
    )


# -- demo -----------------------------------------------------------------------------------------
def _cmd_demo(args: argparse.Namespace) -> int:
    from .diagrams import enumerate_diagrams
    from .optimizers.exact_expectation import exact_expectation
    from .schedules import sgd
    from .schedules.histories import history_count
    from .theory import taylor_series

    landscape = load_landscape_spec("example")
    schedule = sgd(args.N, 1, args.E)
    order = args.order
    print(f"sgd-diagrams {__version__} demo: {landscape!r}, {schedule}")
    print("\nTest diagrams with <= 2 edges and their weighted history counts in this grid:")
    for k in range(3):
        for d in enumerate_diagrams(k, "test"):
            print(f"  {str(d):<12} edges={k}  |Aut|={d.automorphisms}  histories={history_count(d, schedule):.6g}")
    series = {q: taylor_series(landscape, schedule, order, q) for q in ("test-loss", "train-loss", "gen-gap")}
    print(f"\nTaylor coefficients (Theorem 1) to order {order}:")
    for q, s in series.items():
        print(f"  {q:<11} " + "  ".join(f"c{k}={c:.6g}" for k, c in enumerate(s.coefficients)))
    etas = np.array([0.005, 0.01, 0.02, 0.04])
    exact = exact_expectation(landscape, schedule, etas)
    n_sets = f"{landscape.n_points}^{schedule.N}"
    print(f"\nOrder-{order} Taylor polynomial and resummed prediction vs exact E[test loss]"
          f" (all {n_sets} training sets enumerated):")
    from .theory.resummation import resummed_prediction

    resummed = resummed_prediction(landscape, schedule, order, etas).value
    print(f"  {'eta':>7} {'Taylor':>14} {'resummed':>14} {'exact SGD':>14} {'Taylor err':>11} {'resum err':>11}")
    for eta, ex, rs in zip(etas, exact["test-loss"], resummed, strict=True):
        pred = float(series["test-loss"](eta))
        print(f"  {eta:>7.3f} {pred:>14.10f} {rs:>14.10f} {ex:>14.10f} {pred - ex:>11.2e} {rs - ex:>11.2e}")
    return 0


# -- parser ---------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sgd-diagrams", description="Diagrammatic perturbation theory of SGD.")
    parser.add_argument("--version", action="version", version=f"sgd-diagrams {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    p = sub.add_parser("enumerate", help="list diagrams with a given number of edges")
    p.add_argument("--edges", type=int, required=True, help="number of edges d (order η^d)")
    p.add_argument("--kind", choices=("test", "train", "displacement"), default="test")
    p.add_argument("--linkless", action="store_true", help="only linkless diagrams (resummed theory)")
    p.add_argument("--grid", help="schedule JSON: keep only diagrams with a history in it")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--out", help="write the output to this file (atomically)")
    p.set_defaults(func=_cmd_enumerate)

    p = sub.add_parser("series", help="Taylor coefficients of SGD's expected outcome (Theorem 1)")
    p.add_argument("--landscape", default="example", help="finite landscape JSON, or 'example'")
    p.add_argument("--grid", help="schedule JSON file")
    p.add_argument("--schedule", help="schedule spec, e.g. sgd:N=10,B=1,E=1 or gd:N=10,T=5")
    p.add_argument("--order", type=int, required=True, help="highest power of η")
    p.add_argument("--quantity", choices=QUANTITY_CHOICES, default="test-loss")
    p.add_argument("--metric", help="matrix learning rate direction P (η = scalar·P), e.g. '1,0;0,2'")
    p.add_argument("--terms", action="store_true", help="also list every diagram's count and uvalue")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--out", help="write the output to this file (atomically)")
    p.set_defaults(func=_cmd_series)

    p = sub.add_parser("predict", help="Taylor or resummed predictions at given learning rates")
    p.add_argument("--landscape", default="example", help="finite landscape JSON, 'example', or a built-in name")
    p.add_argument("--grid", help="schedule JSON file")
    p.add_argument("--schedule", help="schedule spec, e.g. sgd:N=10,B=1,E=1 or gd:N=10,T=5")
    p.add_argument("--order", type=int, required=True, help="number of edges kept")
    p.add_argument("--eta", required=True, help="learning rates, comma-separated, e.g. 0.01,0.05")
    p.add_argument("--resum", action="store_true", help="resummed (linkless diagrams, propagators) instead of Taylor")
    p.add_argument("--continuous", action="store_true", help="resummed with Remark 1's continuous-time integrals")
    p.add_argument("--limit", choices=("epochs", "samples"),
                   help="resummed T -> infinity limit (Theorem 2): grow epochs at fixed N, or N = T one-epoch")
    p.add_argument("--quantity", choices=QUANTITY_CHOICES, default="test-loss")
    p.add_argument("--metric", help="matrix learning rate direction P (η = scalar·P), e.g. '1,0;0,2'")
    from .commands.estimate import add_sampling_options

    add_sampling_options(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--out", help="write the output to this file (atomically)")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("demo", help="the main job on the built-in example landscape")
    p.add_argument("--N", type=int, default=4, help="training points (default 4)")
    p.add_argument("--E", type=int, default=2, help="epochs (default 2)")
    p.add_argument("--order", type=int, default=3, help="series order (default 3)")
    p.set_defaults(func=_cmd_demo)

    from .commands import coefficients, draw, estimate

    for module in (coefficients, draw, estimate):
        module.register(sub).set_defaults(func=module.run)
    from .simulate_cli import add_simulate_parser, run_simulate

    add_simulate_parser(sub).set_defaults(func=run_simulate)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SgdDiagramsError as exc:
        if os.environ.get("SGD_DIAGRAMS_DEBUG"):
            raise
        print(f"sgd-diagrams: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sgd-diagrams: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # no tracebacks for users; SGD_DIAGRAMS_DEBUG=1 shows them
        if os.environ.get("SGD_DIAGRAMS_DEBUG"):
            raise
        msg = str(exc).splitlines()[0] if str(exc) else ""
        print(f"sgd-diagrams: internal error: {type(exc).__name__}: {msg} "
              "(rerun with SGD_DIAGRAMS_DEBUG=1 and report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
