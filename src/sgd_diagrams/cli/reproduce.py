"""``sgd-diagrams reproduce NAME|all``: every experiment of the papers, one command each.

Writes ``OUT/NAME.json`` (every number plotted, with trials, seeds, provenance), ``OUT/NAME.md`` (the claim
quoted by section, what we measured, and a verdict by a stated statistical rule), ``OUT/NAME.csv`` and the
figures; ``all`` also writes ``OUT/index.html``. ``--quick`` runs each in ≤ 3 minutes on 2 CPU cores; a killed
run resumes from its finished pieces; ``--rerender`` re-derives the reports from saved numbers.
"""

from __future__ import annotations

import argparse
import sys

from ._options import add_device, emit

__all__ = ["register", "run"]


def register(subparsers) -> argparse.ArgumentParser:
    from ..experiments.reproduce import CATALOG

    p = subparsers.add_parser(
        "reproduce", help="reproduce an experiment of the papers (or all): figure, numbers, verdict",
        description=__doc__.split("\n\n")[1] + " Experiments: " + ", ".join(CATALOG) + ".")
    p.add_argument("name", nargs="?", help="an experiment (see --list) or 'all'")
    p.add_argument("--list", action="store_true", help="list the experiments, one line each")
    p.add_argument("--json", action="store_true", help="with --list: print JSON")
    p.add_argument("--quick", action="store_true", help="few trials: each experiment in ≤ 3 minutes on 2 cores")
    p.add_argument("--out", default="out/reproductions", metavar="DIR",
                   help="output folder (default out/reproductions)")
    p.add_argument("--seed", type=int, default=0, help="seed of every simulation and estimate (default 0)")
    p.add_argument("--data-dir", metavar="D", help="Fashion-MNIST / CIFAR-10 files for the convnet experiments "
                   "(default: the offline digits data)")
    p.add_argument("--index", action="store_true",
                   help="only (re)write OUT/index.html from the NAME.json reports already in --out")
    p.add_argument("--inline", action="store_true", help="with --index: one self-contained HTML file (figures and "
                   "CSVs as data URIs) that works when mailed alone, written as OUT/index-inline.html")
    p.add_argument("--compare", metavar="OLD_DIR", help="with --index: mark verdicts and key numbers that changed "
                   "against the reports in OLD_DIR (e.g. docs/reproductions)")
    p.add_argument("--rerender", action="store_true", help="re-derive verdict, text, figures, md and csv of NAME "
                   "(or all) from the NAME.json already in --out, by today's rules, without rerunning")
    p.add_argument("--check", action="store_true", help="after running, check each JSON against its claim's shape "
                   "(exit 1 if one fails)")
    p.add_argument("--backend", choices=("local", "ray"), default="local", help="where simulations run")
    p.add_argument("--force", action="store_true", help="run even when the run, priced from its first finished "
                   "unit of work, would pass the time budget (a refused run's finished pieces are kept)")
    add_device(p)
    p.add_argument("--quiet", action="store_true", help="no progress and no warnings on stderr")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..errors import SgdDiagramsError
    from ..experiments.reproduce import CATALOG, check_outputs, run_reproduction, write_index

    if args.list:
        payload = [{"name": e.name, "summary": e.summary} for e in CATALOG.values()]
        table = "\n".join(f"{e.name:<18} {e.summary}" for e in CATALOG.values())
        emit(argparse.Namespace(json=args.json, out=None), payload, table)
        return 0
    if args.index:
        from pathlib import Path

        found = [n for n in CATALOG if (Path(args.out) / f"{n}.json").exists()]
        if not found:
            raise SgdDiagramsError(f"no NAME.json reports in {args.out}; run sgd-diagrams reproduce all --out "
                                   f"{args.out} first")
        target = Path(args.out) / ("index-inline.html" if args.inline else "index.html")
        page, count = write_index(args.out, found, inline=args.inline, compare=args.compare, target=target)
        print(f"wrote {page} ({count} of {len(CATALOG)} experiments)")
        return 0
    if args.inline or args.compare:
        raise SgdDiagramsError("--inline and --compare go with --index; add --index")
    if not args.name:
        raise SgdDiagramsError("name an experiment or 'all' (see sgd-diagrams reproduce --list)")
    names = list(CATALOG) if args.name == "all" else [args.name]
    if args.name != "all" and args.name not in CATALOG:
        raise SgdDiagramsError(f"unknown experiment {args.name!r}; choose one of {', '.join(CATALOG)} or 'all'")
    if args.rerender:
        from pathlib import Path

        from ..experiments.reproduce import rerender_reproduction

        todo = [n for n in names if args.name != "all" or (Path(args.out) / f"{n}.json").exists()]
        if not todo:
            raise SgdDiagramsError(f"no NAME.json reports in {args.out} to re-render; run the experiments first")
        for name in todo:
            payload = rerender_reproduction(name, args.out, show_progress=not args.quiet)
            was = payload["experiment_reading"].get("verdict")
            print(f"{name}: {was} -> {payload['verdict']} — {' '.join(payload['reason'].split())}")
        print(f"wrote {write_index(args.out, [n for n in CATALOG if (Path(args.out) / f'{n}.json').exists()])[0]}")
        return 0
    failed = []
    for name in names:
        flags = (" --quick" if args.quick else "") + f" --seed {args.seed}"
        payload = run_reproduction(name, args.out, quick=args.quick, seed=args.seed, data_dir=args.data_dir,
                                   device=args.device, backend=args.backend, show_progress=not args.quiet,
                                   command=f"sgd-diagrams reproduce {name}{flags}", force=args.force)
        line = f"{name}: {payload['verdict']} — {payload['reason']}"
        if args.check:
            problems = check_outputs(name, args.out)
            failed += problems
            line += "" if not problems else "  [CHECK FAILED: " + "; ".join(problems) + "]"
        print(" ".join(line.split()))
    if args.name == "all":
        print(f"wrote {write_index(args.out, names)[0]}")
    if failed:
        print("sgd-diagrams reproduce: error: " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0
