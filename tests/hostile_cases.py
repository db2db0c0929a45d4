"""The hostile-input catalog of issue 19: every case an attacker (or a careless user) would try, by surface.

Each case runs one input against the library and says whether the contract held: a one-line
``SgdDiagramsError`` (exit 2 and one ``error:`` line from the command line, no traceback, no raw control
characters), or — for the estimate cache — a warning and the correct result, or — for valid input that
looked odd — a normal result.  Used by ``tests/test_hostile_readers.py`` (each case a test) and by
``benchmarks/hostile_input_census.py`` (the per-surface table of the closing note, before and after).

Every file is generated here, in a scratch folder; nothing large is committed.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

GOOD_LANDSCAPE = {"kind": "finite", "dim": 1, "init": [0.5],
                  "points": [{"prob": 0.5, "loss": "t0**2"}, {"prob": 0.5, "loss": "(t0 - 1)**2"}]}
GOOD_SCHEDULE = {"N": 4, "B": 1, "E": 1}
ESC = "\x1b"


@dataclass(frozen=True)
class Case:
    """One attack: ``check(ws)`` returns None when the contract held, else what broke."""

    surface: str
    name: str
    check: Callable[[Workspace], str | None]


# -- running things and judging the outcome ----------------------------------------------------------------------
def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``sgd-diagrams argv`` in this process: (status, stdout, stderr)."""
    from sgd_diagrams.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse
            rc = int(exc.code or 0)
    return rc, out.getvalue(), err.getvalue()


def _raw_control(text: str) -> bool:
    return any(c in text for c in (ESC, "\r", "\x07", "\x00"))


def refused(argv: list[str], needle: str | None = None) -> str | None:
    """None if the command exits 2 with exactly one ``error:`` line (warnings aside) and no raw control bytes."""
    rc, out, err = run_cli(argv)
    lines = [ln for ln in err.strip().splitlines() if ": warning:" not in ln]
    if rc != 2:
        return f"exit {rc}: {err.strip()[-200:]}"
    if len(lines) != 1 or ": error:" not in lines[0] or "Traceback" in err:
        return f"not one error line: {err.strip()[-300:]!r}"
    if _raw_control(out + err):
        return "raw control characters in the output"
    if needle and needle not in lines[0]:
        return f"message lacks {needle!r}: {lines[0]}"
    return None


def succeeded(argv: list[str], needle_err: str | None = None, predicate: Callable[[str], bool] | None = None
              ) -> str | None:
    rc, out, err = run_cli(argv)
    if rc != 0:
        return f"exit {rc}: {err.strip()[-300:]}"
    if _raw_control(out + err):
        return "raw control characters in the output"
    if needle_err and needle_err not in err:
        return f"stderr lacks {needle_err!r}: {err.strip()[-200:]!r}"
    if predicate is not None and not predicate(out):
        return f"wrong output: {out[-200:]!r}"
    return None


def raises_one_line(fn: Callable[[], object], needle: str | None = None) -> str | None:
    """None if ``fn()`` raises a one-line :class:`SgdDiagramsError` (containing ``needle``)."""
    from sgd_diagrams.errors import SgdDiagramsError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
    except SgdDiagramsError as exc:
        text = str(exc)
        if "\n" in text or _raw_control(text):
            return f"multi-line or raw message: {text[:200]!r}"
        if needle and needle not in text:
            return f"message lacks {needle!r}: {text[:200]}"
        return None
    except Exception as exc:  # noqa: BLE001 - the point is to report it
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    return "accepted"


# -- the scratch folder with the valid files the attacks start from ----------------------------------------------
class Workspace:
    """Valid inputs built once (landscape, schedule, statistics, predictions, simulations, cache, checkpoints)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._made: dict[str, object] = {}

    def path(self, name: str) -> Path:
        return self.root / name

    def write(self, name: str, obj: object) -> Path:
        p = self.path(name)
        p.write_text(obj if isinstance(obj, str) else json.dumps(obj))
        return p

    def special(self, kind: str, suffix: str) -> Path:
        """A FIFO, a symlink to /dev/zero or /dev/urandom, or a folder, named with ``suffix``."""
        p = self.path(f"{kind}{suffix}")
        if not os.path.lexists(p):
            if kind == "fifo":
                os.mkfifo(p)
            elif kind in ("zero", "urandom"):
                os.symlink(f"/dev/{kind}", p)
            else:
                p.mkdir()
        return p

    def once(self, key: str, make: Callable[[], object]) -> object:
        if key not in self._made:
            self._made[key] = make()
        return self._made[key]

    @property
    def stats_json(self) -> dict:
        import sgd_diagrams as sd

        return copy.deepcopy(self.once("stats", lambda: sd.measure(sd.landscape("example"), 2, samples=300,
                                                                    seed=1).to_json()))

    @property
    def stats_file(self) -> Path:
        return self.once("stats_file", lambda: self.write("stats.json", self.stats_json))  # type: ignore[return-value]

    def _pair(self) -> tuple[Path, Path, Path]:
        land = ["--landscape", "gauss:init=0.5", "--schedule", "sgd:N=4,B=1,E=1", "--eta", "0.05,0.1"]
        sim, pred = self.path("sim.json"), self.path("pred.json")
        assert run_cli(["simulate", *land, "--optimizer", "sgd", "--trials", "64", "--quiet", "--out", sim])[0] == 0
        assert run_cli(["predict", *land, "--order", "1", "--json", "--quiet", "--out", pred])[0] == 0
        return sim, pred, sim  # the simulation also measured the (1-D) displacement

    @property
    def sim_file(self) -> Path:
        return self.once("pair", self._pair)[0]  # type: ignore[index]

    @property
    def pred_file(self) -> Path:
        return self.once("pair", self._pair)[1]  # type: ignore[index]

    @property
    def sim_disp_file(self) -> Path:
        return self.once("pair", self._pair)[2]  # type: ignore[index]

    @property
    def torch_land(self):
        def make():
            import torch
            from torch import nn

            import sgd_diagrams as sd

            torch.manual_seed(0)
            model = nn.Linear(3, 1)
            x, y = torch.randn(16, 3), torch.randn(16, 1)
            return sd.TorchLandscape(model, lambda o, t: ((o - t) ** 2).mean(), x, y)
        return self.once("torch", make)


# -- helpers that build attacks ------------------------------------------------------------------------------------
def _predict_stats(path: Path) -> list:
    return ["predict", "--stats", path, "--schedule", "sgd:N=4", "--order", "1", "--eta", "0.1"]


def _series_landscape(path: Path) -> list:
    return ["series", "--landscape", path, "--schedule", "sgd:N=2", "--order", "1"]


def _series_grid(path: Path) -> list:
    return ["series", "--landscape", "example", "--grid", path, "--order", "1"]


def _plot(ws: Workspace, pred: Path | None = None, sim: Path | None = None, *extra: str) -> list:
    return ["plot", "--prediction", pred or ws.pred_file, "--simulation", sim or ws.sim_file,
            "--out", ws.path("fig.png"), *extra]


def _whatif(path: Path, *extra: str) -> list:
    return ["whatif", "--stats", path, "--schedule", "sgd:N=4,B=1,E=1", "--order", "2", "--eta", "0.01,0.02",
            "--vary", "batch=1,2", "--quiet", *extra]


# every file option of the command line, as (name, suffix, argv builder)
FILE_OPTIONS: list[tuple[str, str, Callable[[Workspace, Path], list]]] = [
    ("--landscape", ".json", lambda ws, p: _series_landscape(p)),
    ("--grid", ".json", lambda ws, p: _series_grid(p)),
    ("predict --stats", ".json", lambda ws, p: _predict_stats(p)),
    ("whatif --stats", ".json", lambda ws, p: _whatif(p)),
    ("plot --prediction", ".json", lambda ws, p: _plot(ws, pred=p)),
    ("plot --simulation", ".json", lambda ws, p: _plot(ws, sim=p)),
    ("simulate --out (resume)", ".json",
     lambda ws, p: ["simulate", "--landscape", "gauss", "--schedule", "sgd:N=4", "--optimizer", "sgd", "--eta",
                    "0.1", "--trials", "8", "--quiet", "--out", p]),
]


def _special_file_cases() -> list[Case]:
    cases = []
    for option, suffix, argv in FILE_OPTIONS:
        for kind in ("fifo", "zero", "urandom", "folder"):
            cases.append(Case("special files", f"{option} {kind}",
                              lambda ws, a=argv, k=kind, s=suffix: refused(a(ws, ws.special(k, s)))))
    for kind in ("fifo", "zero", "folder"):
        cases.append(Case("special files", f"--init-from {kind}", lambda ws, k=kind: raises_one_line(
            lambda: _load_vector(ws.special(k, ".npy"), ws.torch_land))))
        cases.append(Case("special files", f"--cache entry {kind}", lambda ws, k=kind: _cache_entry_replaced(ws, k)))
    return cases


def _load_vector(path: Path, land) -> object:
    from sgd_diagrams.landscapes.checkpoints import load_parameter_vector

    return load_parameter_vector(path, land)


# -- JSON readers: deep, huge numbers, duplicates, encodings -------------------------------------------------------
BAD_JSON_TEXTS: dict[str, str | bytes] = {
    "deep list 100000": "[" * 100_000 + "]" * 100_000,
    "deep object 5000": '{"a":' * 5000 + "1" + "}" * 5000,
    "deep list 500": "[" * 500 + "]" * 500,
    "int 5000 digits": "1" * 5000,
    "int 400 digits": "9" * 400,
    "float 1e400": "1e400",
    "float -1e400 in list": "[-1e400]",
    "NaN": "NaN",
    "Infinity in object": '{"N": Infinity}',
    "duplicate keys": '{"N": 4, "N": 5}',
    "invalid utf-8": b"\xff\xfe{}",
    "NUL bytes": b"\x00\x00\x00",
    "empty": "",
    "BOM": "\ufeff{}",
}


def _json_readers(ws: Workspace) -> dict[str, Callable[[Path], object]]:
    import sgd_diagrams as sd
    from sgd_diagrams.estimation.statistics import load_statistics
    from sgd_diagrams.plots import load_prediction, load_simulation
    from sgd_diagrams.schedules.grid import load_schedule

    return {
        "landscape": lambda p: sd.load_landscape(p),
        "schedule": lambda p: load_schedule(p),
        "statistics": lambda p: load_statistics(p),
        "prediction": lambda p: load_prediction(p),
        "simulation": lambda p: load_simulation(p, "test-loss"),
    }


JSON_READERS = ("landscape", "schedule", "statistics", "prediction", "simulation")


def _json_reader_cases() -> list[Case]:
    cases = []
    for reader in JSON_READERS:
        for name, text in BAD_JSON_TEXTS.items():
            def check(ws: Workspace, reader=reader, name=name, text=text) -> str | None:
                p = ws.path(f"bad-{reader.replace(' ', '_')}.json")
                p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
                return raises_one_line(lambda: _json_readers(ws)[reader](p))
            cases.append(Case("JSON readers", f"{reader}: {name}", check))
    # the CLI readers too, for the cases that used to crash (exit 1)
    for name in ("deep list 100000", "int 5000 digits", "float 1e400", "duplicate keys"):
        text = BAD_JSON_TEXTS[name]
        cases.append(Case("JSON readers", f"CLI --landscape: {name}",
                          lambda ws, t=text: refused(_series_landscape(ws.write("cli-bad.json", t)))))
        cases.append(Case("JSON readers", f"CLI --stats: {name}",
                          lambda ws, t=text: refused(_predict_stats(ws.write("cli-bad.json", t)))))
        cases.append(Case("JSON readers", f"CLI plot --prediction: {name}",
                          lambda ws, t=text: refused(_plot(ws, pred=ws.write("cli-bad.json", t)))))
    return cases


# -- statistics fields that used to pass ---------------------------------------------------------------------------
def _stats_variant(ws: Workspace, edit: Callable[[dict], None]) -> Path:
    obj = ws.stats_json
    edit(obj)
    return ws.write("stats-variant.json", obj)


def _asymmetric(obj: dict) -> None:
    h = obj["tensors"]["hessian"][0]
    h[0][1] += 0.5


def _statistics_cases() -> list[Case]:
    from_stats = lambda edit, needle=None: (  # noqa: E731
        lambda ws: raises_one_line(lambda: _json_readers(ws)["statistics"](_stats_variant(ws, edit)), needle))

    def long_row(obj: dict) -> None:
        kind = next(iter(obj["uvalues"]))
        name = next(iter(obj["uvalues"][kind]))
        obj["uvalues"][kind][name] = [[0.0] * 100_000] + obj["uvalues"][kind][name][1:]

    def text_name(obj: dict) -> None:
        obj["landscape"]["name"] = f"x{ESC}[2J\nerror: forged"

    def bool_value(obj: dict) -> None:
        kind = next(iter(obj["uvalues"]))
        name = next(iter(obj["uvalues"][kind]))
        obj["uvalues"][kind][name][0] = True

    return [
        Case("statistics", "asymmetric Hessian", from_stats(_asymmetric, "symmetric")),
        Case("statistics", "a 100000-long row", from_stats(long_row)),
        Case("statistics", "ANSI and newline in the name", from_stats(text_name)),
        Case("statistics", "boolean value", from_stats(bool_value)),
        Case("statistics", "load_statistics(5)",
             lambda ws: raises_one_line(lambda: _json_readers(ws)["statistics"](5))),
    ]


# -- checkpoints ---------------------------------------------------------------------------------------------------
def _save(ws: Workspace, name: str, obj) -> Path:
    import torch

    p = ws.path(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.save(obj, p)
    return p


def _zip_bomb(ws: Workspace) -> Path:
    import torch

    good = _save(ws, "ck-good.pt", torch.zeros(4))
    src = zipfile.ZipFile(good)
    out = ws.path("ck-bomb.pt")
    with zipfile.ZipFile(out, "w") as z:
        for m in src.infolist():
            data = src.read(m)
            if m.filename.endswith("data.pkl"):
                z.writestr(m.filename, data + b"\0" * (64 * 2**20), compress_type=zipfile.ZIP_DEFLATED)
            else:
                z.writestr(m, data)
    return out


def _npy_header(ws: Workspace, shape: tuple, descr: str = "<f8") -> Path:
    import numpy as np

    p = ws.path("ck-header.npy")
    with open(p, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": descr, "fortran_order": False, "shape": shape})
        fh.write(b"\0" * 64)
    return p


def _checkpoint_cases() -> list[Case]:
    def tensor_case(make: Callable[[], object], needle: str | None = None):
        return lambda ws: raises_one_line(lambda: _load_vector(_save(ws, "ck.pt", make()), ws.torch_land), needle)

    def t():
        import torch
        return torch

    def state(value_fn):
        def make():
            import torch
            return {"weight": value_fn(torch), "bias": torch.zeros(1)}
        return make

    def npy(ws: Workspace, array) -> Path:
        import numpy as np
        p = ws.path("ck.npy")
        np.save(p, array, allow_pickle=False)
        return p

    import_np = lambda: __import__("numpy")  # noqa: E731
    return [
        Case("checkpoints", "zip bomb (64 MiB data.pkl)",
             lambda ws: raises_one_line(lambda: _load_vector(_zip_bomb(ws), ws.torch_land), "inflates")),
        Case("checkpoints", "stride-0 view of 3e8 elements",
             tensor_case(lambda: t().zeros(1).expand(300_000_000), "elements")),
        Case("checkpoints", "meta tensor", tensor_case(lambda: t().zeros(4, device="meta"), "meta")),
        Case("checkpoints", "sparse tensor", tensor_case(lambda: t().zeros(4).to_sparse(), "sparse")),
        Case("checkpoints", "quantized tensor",
             tensor_case(lambda: t().quantize_per_tensor(t().zeros(4), 0.1, 0, t().qint8), "quantized")),
        Case("checkpoints", "complex tensor", tensor_case(lambda: t().zeros(4, dtype=t().complex64), "real")),
        Case("checkpoints", "bool tensor", tensor_case(lambda: t().zeros(4, dtype=t().bool), "real")),
        Case("checkpoints", "(2, 2) tensor as a 4-vector", tensor_case(lambda: t().zeros(2, 2), "flat")),
        Case("checkpoints", "state_dict with a complex weight",
             tensor_case(state(lambda torch: torch.zeros(1, 3, dtype=torch.complex64)), "real")),
        Case("checkpoints", "state_dict with a stride-0 weight",
             tensor_case(state(lambda torch: torch.zeros(1).expand(10**8).reshape(1, -1)))),
        Case("checkpoints", "state_dict with a meta weight",
             tensor_case(state(lambda torch: torch.zeros(1, 3, device="meta")), "meta")),
        Case("checkpoints", "legacy raw-pickle torch file", lambda ws: raises_one_line(lambda: _load_vector(
            _save_legacy(ws), ws.torch_land))),
        Case("checkpoints", ".npy header declaring 73 TiB",
             lambda ws: raises_one_line(lambda: _load_vector(_npy_header(ws, (10**13,)), ws.torch_land))),
        Case("checkpoints", ".npy object dtype header",
             lambda ws: raises_one_line(lambda: _load_vector(_npy_header(ws, (4,), "|O"), ws.torch_land))),
        Case("checkpoints", ".npy (2, 2) as a 4-vector",
             lambda ws: raises_one_line(lambda: _load_vector(npy(ws, import_np().zeros((2, 2))), ws.torch_land))),
        Case("checkpoints", ".npy truncated data",
             lambda ws: raises_one_line(lambda: _load_vector(_npy_header(ws, (4,)), ws.torch_land))),
    ]


def _save_legacy(ws: Workspace) -> Path:
    import torch

    p = ws.path("ck-legacy.pt")
    torch.save(torch.zeros(4), p, _use_new_zipfile_serialization=False)
    return p


# -- the estimate cache ----------------------------------------------------------------------------------------------
_CACHE_ARGS = ["predict", "--schedule", "sgd:N=4", "--order", "1", "--eta", "0.01", "--samples", "200", "--json",
               "--quiet"]


def _cache_run(ws: Workspace, folder: Path) -> tuple[int, str, str]:
    # no --quiet: the warning must be seen
    return run_cli([*_CACHE_ARGS[:-1], "--cache", folder])


def _fresh_cache(ws: Workspace, name: str) -> tuple[Path, Path, float]:
    """A cache folder holding one entry; (folder, entry, the correct value)."""
    folder = ws.path(name)
    if folder.exists():
        import shutil
        shutil.rmtree(folder)
    rc, out, err = _cache_run(ws, folder)
    assert rc == 0, err
    entry = next(folder.rglob("*.json"))
    return folder, entry, json.loads(out)["value"]


def _tampered(ws: Workspace, edit: Callable[[dict], object]) -> str | None:
    folder, entry, value = _fresh_cache(ws, "cache-tamper")
    obj = json.loads(entry.read_text())
    result = edit(obj)
    entry.write_text(result if isinstance(result, str) else json.dumps(obj))
    rc, out, err = _cache_run(ws, folder)
    if rc != 0:
        return f"exit {rc}: {err.strip()[-200:]}"
    if json.loads(out)["value"] != value:
        return f"wrong value {json.loads(out)['value']} (correct {value})"
    if "warning" not in err:
        return "no warning"
    return None


def _cache_entry_replaced(ws: Workspace, kind: str) -> str | None:
    folder, entry, value = _fresh_cache(ws, f"cache-{kind}")
    entry.unlink()
    if kind == "fifo":
        os.mkfifo(entry)
    elif kind == "zero":
        os.symlink("/dev/zero", entry)
    else:
        entry.mkdir()
    rc, out, err = _cache_run(ws, folder)
    if rc != 0:
        return f"exit {rc}: {err.strip()[-200:]}"
    if json.loads(out)["value"] != value:
        return "wrong value"
    return None if "warning" in err else "no warning"


def _first_replica(obj: dict) -> list:
    return next(iter(obj["replicas"].values()))


def _cache_cases() -> list[Case]:
    def scale(obj):
        rows = _first_replica(obj)
        rows[0] = rows[0] * 1000.0 + 1.0

    def checksum_recomputed_key(obj):
        obj["key"] = obj["key"].replace('"seed": 0', '"seed": 1')

    def string_value(obj):
        _first_replica(obj)[0] = "0.5"

    def bool_value(obj):
        _first_replica(obj)[0] = True

    def deep(obj):
        return "[" * 100_000 + "]" * 100_000

    def huge_int(obj):
        return '{"key": ' + "9" * 5000 + "}"

    def dup(obj):
        text = json.dumps(obj)
        return text[:-1] + ', "replicas": {}}'

    def no_checksums(obj):
        obj.pop("content_sha256", None)
        obj.pop("request_sha256", None)

    return [Case("cache", name, lambda ws, e=edit: _tampered(ws, e)) for name, edit in [
        ("a value edited (JSON still valid)", scale), ("the key edited", checksum_recomputed_key),
        ("a string among the numbers", string_value), ("a boolean among the numbers", bool_value),
        ("deeply nested", deep), ("a 5000-digit integer", huge_int), ("duplicate keys", dup),
        ("checksums removed", no_checksums), ("not JSON", lambda obj: "\x00\x01 not json"),
    ]] + [Case("cache", "predict(cache=5)", lambda ws: raises_one_line(lambda: _api_predict(cache=5, samples=100)))]


# -- duplicate keys ----------------------------------------------------------------------------------------------
def _duplicate_cases() -> list[Case]:
    land_text = json.dumps(GOOD_LANDSCAPE)[:-1] + ', "dim": 2}'
    return [
        Case("duplicate keys", "landscape file", lambda ws: refused(_series_landscape(ws.write("dup.json", land_text)),
                                                                   "twice")),
        Case("duplicate keys", "schedule file", lambda ws: refused(_series_grid(
            ws.write("dup.json", '{"N": 4, "B": 1, "B": 2}')), "twice")),
        Case("duplicate keys", "--schedule sgd:N=10,B=1,B=2", lambda ws: refused(
            ["series", "--order", "1", "--schedule", "sgd:N=10,B=1,B=2"], "twice")),
        Case("duplicate keys", "--schedule sgd:N=4,seed=average,seed=1", lambda ws: refused(
            ["series", "--order", "1", "--schedule", "sgd:N=4,seed=average,seed=1"])),
        Case("duplicate keys", "statistics file", lambda ws: refused(_predict_stats(ws.write(
            "dup.json", json.dumps(ws.stats_json)[:-1] + ', "seed": 7}')), "twice")),
        Case("duplicate keys", "prediction file", lambda ws: refused(_plot(ws, pred=ws.write(
            "dup.json", ws.pred_file.read_text().rstrip()[:-1] + ', "eta": [1]}')), "twice")),
    ]


# -- names printed to a terminal -----------------------------------------------------------------------------------
def _ansi_cases() -> list[Case]:
    def named(ws: Workspace, stem: str) -> Path:
        return ws.write(f"{stem}.json", GOOD_LANDSCAPE)

    return [
        Case("terminal escapes", "landscape named with ESC[2J (series table)",
             lambda ws: succeeded(_series_landscape(named(ws, f"evil{ESC}[2J")))),
        Case("terminal escapes", "landscape named with a newline and a forged error line",
             lambda ws: succeeded(_series_landscape(named(ws, "evil\nsgd-diagrams series error forged")),
                                  predicate=lambda out: "\nsgd-diagrams series error" not in out)),
        Case("terminal escapes", "missing file named with ESC (error line)",
             lambda ws: refused(_series_landscape(ws.path(f"missing{ESC}]0;title\x07.json")))),
        Case("terminal escapes", "bell and carriage return in a schedule spec",
             lambda ws: refused(["series", "--order", "1", "--schedule", f"sgd:N=4\r{ESC}[1A,X=\x07"])),
    ]


# -- mathtext in every label ---------------------------------------------------------------------------------------
MATHTEXT = ["$\\frac{$", "$x", "a$b$c$", "$\\undefinedcommand$", "$" * 7]


def _mathtext_cases() -> list[Case]:
    cases = []
    for text in MATHTEXT:
        def plot_title(ws: Workspace, text=text) -> str | None:
            return succeeded(_plot(ws, None, None, "--title", text))

        def prediction_form(ws: Workspace, text=text) -> str | None:
            obj = json.loads(ws.pred_file.read_text())
            obj["form"] = text
            return succeeded(_plot(ws, pred=ws.write("pred-math.json", obj)))

        def optimizer_name(ws: Workspace, text=text) -> str | None:
            obj = json.loads(ws.sim_file.read_text())
            obj["result"]["meta"]["optimizers"] = [text]
            return succeeded(_plot(ws, sim=ws.write("sim-math.json", obj)))

        def whatif_name(ws: Workspace, text=text) -> str | None:
            obj = ws.stats_json
            obj["landscape"]["name"] = text
            png = ws.path("whatif.png")
            png.unlink(missing_ok=True)
            problem = succeeded(_whatif(ws.write("stats-math.json", obj), "-o", png))
            return problem or (None if png.exists() and png.with_suffix(".json").exists() else "no PNG/JSON")

        def api_label(ws: Workspace, text=text) -> str | None:
            from sgd_diagrams.plots import load_prediction, theory_vs_simulation

            try:
                load_prediction(ws.pred_file, label=text)
                theory_vs_simulation(ws.pred_file, ws.sim_file, ws.path("api.png"), title=text)
            except Exception as exc:  # noqa: BLE001
                return f"{type(exc).__name__}: {str(exc)[:120]}"
            return None

        for name, fn in [("plot --title", plot_title), ("prediction form", prediction_form),
                         ("optimizer name", optimizer_name), ("whatif landscape name", whatif_name),
                         ("Python title", api_label)]:
            cases.append(Case("mathtext", f"{name} {text!r}", fn))
    return cases


# -- plot files: CIs -------------------------------------------------------------------------------------------------
def _metrics_block(obj: dict) -> dict:
    """The first optimizer's per-metric block at the first eta of a ``simulate --out`` file (one shape for all)."""
    optimizers = obj["result"]["sweep"][0]["optimizers"]
    return optimizers[next(iter(optimizers))]


def _sim_edit(ws: Workspace, source: Path, edit: Callable[[dict], None]) -> Path:
    obj = json.loads(source.read_text())
    edit(_metrics_block(obj))
    return ws.write("sim-edit.json", obj)


def _plot_cases() -> list[Case]:
    def swap(block):
        block["test-loss"]["ci95"] = block["test-loss"]["ci95"][::-1]

    def outside(block):
        block["test-loss"]["mean"] = block["test-loss"]["ci95"][1] + 1.0

    def displacement_ok(ws: Workspace) -> str | None:
        pred = ws.path("pred-disp.json")
        land = ["--landscape", "gauss:init=0.5", "--schedule", "sgd:N=4,B=1,E=1", "--eta", "0.05,0.1"]
        assert run_cli(["predict", *land, "--order", "1", "--quantity", "displacement", "--json", "--quiet",
                        "--out", pred])[0] == 0
        return succeeded(["plot", "--prediction", pred, "--simulation", ws.sim_disp_file, "--out",
                          ws.path("disp.png")])

    def displacement_ci_values(ws: Workspace) -> str | None:
        from sgd_diagrams.plots import load_simulation

        obj = json.loads(ws.sim_disp_file.read_text())
        s = load_simulation(obj, "displacement", coordinate=0)
        block = _metrics_block(obj)["displacement"]
        want = (block["ci95"][0][0], block["ci95"][0][1])
        got = (float(s.low[0]), float(s.high[0]))
        return None if got == want else f"read CI {got}, file says {want}"

    return [
        Case("plot files", "swapped CI bounds", lambda ws: refused(_plot(ws, sim=_sim_edit(ws, ws.sim_file, swap)),
                                                                   "CI")),
        Case("plot files", "mean outside its CI", lambda ws: refused(_plot(ws, sim=_sim_edit(ws, ws.sim_file,
                                                                                              outside)), "CI")),
        Case("plot files", "1-D displacement prediction vs simulation", displacement_ok),
        Case("plot files", "displacement CI read per coordinate", displacement_ci_values),
    ]


# -- costs no guard saw ----------------------------------------------------------------------------------------------
def _nested(fn: str, depth: int) -> dict:
    return {**GOOD_LANDSCAPE, "points": [{"prob": 1.0, "loss": f"{fn}(" * depth + "t0" + ")" * depth}]}


def _cost_cases() -> list[Case]:
    many_points = {"kind": "finite", "dim": 1, "init": [0.5],
                   "points": [{"prob": 1 / 200_000, "loss": "t0**2"}] * 200_000}
    return [
        Case("costs", "--lr-schedule with 10000 parts at T=1e6", lambda ws: refused(
            ["series", "--order", "1", "--schedule", "gd:N=1,T=1000000", "--lr-schedule",
             "+".join(["constant"] * 10_000)], "parts")),
        Case("costs", "--lr-schedule step with 10000 items at T=1e6", lambda ws: refused(
            ["series", "--order", "1", "--schedule", "gd:N=1,T=1000000", "--lr-schedule",
             "step:" + ",".join(f"0.99@{i}" for i in range(10_000))], "parts")),
        Case("costs", "40 nested exp", lambda ws: refused(_series_landscape(ws.write("nest.json", _nested("exp", 40))),
                                                         "nested")),
        Case("costs", "99 nested sin", lambda ws: refused(_series_landscape(ws.write("nest.json", _nested("sin", 99))),
                                                         "nested")),
        Case("costs", "6 nested exp", lambda ws: refused(_series_landscape(ws.write("nest.json", _nested("exp", 6))),
                                                        "nested")),
        Case("costs", "a landscape with 200000 points", lambda ws: refused(
            _series_landscape(ws.write("many.json", many_points)), "points")),
        Case("costs", "pretrain 1e12 steps", lambda ws: raises_one_line(lambda: ws.torch_land.pretrained(10**12),
                                                                         "limit")),
        Case("costs", "pretrain 1e7 steps (over the time budget)", lambda ws: raises_one_line(
            lambda: ws.torch_land.pretrained(10**7), "--force")),
        Case("costs", "CLI --pretrain 1e12", lambda ws: refused(
            ["predict", "--landscape", "logistic-digits", "--schedule", "sgd:N=4", "--order", "1", "--eta", "0.1",
             "--resum", "--samples", "60", "--pretrain", str(10**12)])),
    ]


# -- the Python API boundary ---------------------------------------------------------------------------------------
def _api_predict(**kw) -> object:
    import sgd_diagrams as sd

    args = {"eta": 0.01, **kw}
    return sd.predict(sd.landscape("gauss"), sd.sgd(N=4), 1, **args)


def _model(kind: str):
    import torch
    from torch import nn

    if kind == "batchnorm":
        return nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2), nn.Linear(2, 1))
    if kind == "dropout":
        return nn.Sequential(nn.Linear(3, 2), nn.Dropout(0.5), nn.Linear(2, 1))
    if kind == "meta":
        return nn.Linear(3, 1, device="meta")
    if kind == "huge":
        return nn.Linear(10**4, 10**4, device="meta")
    if kind == "complex":
        return nn.Linear(3, 1, dtype=torch.complex64)
    raise AssertionError(kind)


def _torch_landscape(kind: str, loss=None):
    import torch

    import sgd_diagrams as sd

    x, y = torch.randn(16, 3), torch.randn(16, 1)
    return sd.TorchLandscape(_model(kind) if isinstance(kind, str) else kind, loss or (lambda o, t: ((o - t) ** 2)
                                                                                      .mean()), x, y)


def _mse_dense():
    import torch
    from torch import nn

    import sgd_diagrams as sd

    land = _torch_landscape(nn.Linear(3, 1), torch.nn.functional.mse_loss)
    return sd.predict(land, sd.sgd(N=4), 2, 0.01, samples=100)


def _api_cases() -> list[Case]:
    import sgd_diagrams as sd

    def schedule(batches):
        return lambda ws: raises_one_line(lambda: sd.from_batches(4, batches))

    return [
        Case("Python API", 'eta="0.01"', lambda ws: raises_one_line(lambda: _api_predict(eta="0.01"), "real")),
        Case("Python API", "eta=True", lambda ws: raises_one_line(lambda: _api_predict(eta=True), "real")),
        Case("Python API", "eta=[0.01, False]", lambda ws: raises_one_line(lambda: _api_predict(eta=[0.01, False]))),
        Case("Python API", "eta=1j", lambda ws: raises_one_line(lambda: _api_predict(eta=1j))),
        Case("Python API", "eta=[[0.01]]", lambda ws: raises_one_line(lambda: _api_predict(eta=[[0.01]]))),
        Case("Python API", 'device="tpu" on an exact landscape', lambda ws: raises_one_line(
            lambda: _api_predict(device="tpu"))),
        Case("Python API", 'backend="evil" on an exact landscape', lambda ws: raises_one_line(
            lambda: _api_predict(backend="evil"))),
        Case("Python API", "simulate backend=5", lambda ws: raises_one_line(
            lambda: sd.simulate(sd.landscape("gauss"), sd.sgd(N=4), eta=0.1, trials=4, backend=5))),
        Case("Python API", "measure device='tpu'", lambda ws: raises_one_line(
            lambda: sd.measure(sd.landscape("gauss"), 1, samples=100, device="tpu"))),
        Case("Python API", "float batch index", schedule([[0.0]])),
        Case("Python API", "1.5 batch index", schedule([[1.5]])),
        Case("Python API", "bool batch index", schedule([[True]])),
        Case("Python API", "string batch index", schedule([["0"]])),
        Case("Python API", "batches=[0]", schedule([0])),
        Case("Python API", "batches=5", schedule(5)),
        Case("Python API", "BatchNorm in training mode", lambda ws: raises_one_line(
            lambda: _torch_landscape("batchnorm"), "eval()")),
        Case("Python API", "Dropout in training mode", lambda ws: raises_one_line(
            lambda: _torch_landscape("dropout"), "eval()")),
        Case("Python API", "model on the meta device", lambda ws: raises_one_line(
            lambda: _torch_landscape("meta"), "CPU")),
        Case("Python API", "a 1e8-parameter model", lambda ws: raises_one_line(
            lambda: _torch_landscape("huge"), "limit")),
        Case("Python API", "a complex model", lambda ws: raises_one_line(lambda: _torch_landscape("complex"))),
        Case("Python API", "F.mse_loss on the dense path", lambda ws: raises_one_line(_mse_dense,
                                                                                     "forward-over-reverse")),
        Case("Python API", "load_parameter_vector(5)", lambda ws: raises_one_line(
            lambda: _load_vector(5, ws.torch_land))),  # type: ignore[arg-type]
    ]


# -- messages and misc -----------------------------------------------------------------------------------------------
def _eta_bound(ws: Workspace) -> str | None:
    """The stated bound must be the real one: just below it is accepted, the refused eta is above it."""
    import re

    base = ["predict", "--landscape", "example", "--schedule", "sgd:N=4,B=1,E=2", "--order", "2", "--resum",
            "--momentum", "0.5", "--lr-schedule", "linear:3", "--quiet", "--eta"]
    rc, out, err = run_cli([*base, "2.7"])
    m = re.search(r"use eta < ([0-9.]+)", err)
    if rc != 2 or not m:
        return f"no bound stated: {err.strip()[-200:]}"
    bound = float(m.group(1))
    rc_below, _, err_below = run_cli([*base, str(bound * 0.999)])
    rc_above, _, _ = run_cli([*base, str(bound * 1.001)])
    if rc_below != 0 or rc_above != 2:
        return f"bound {bound} is not the boundary (below: exit {rc_below}, above: exit {rc_above})"
    return None


def _misc_cases() -> list[Case]:
    return [
        Case("messages", "eta bound with lr multipliers and momentum", _eta_bound),
        Case("messages", "--metric '1e308,0;0,1e308' (no library warnings before the error)", lambda ws: _no_warnings(
            ["predict", "--landscape", "example", "--schedule", "sgd:N=4", "--order", "2", "--eta", "0.01",
             "--metric", "1e308,0;0,1e308"])),
        Case("messages", "--lr-schedule linear:1e308 (no library warnings before the error)", lambda ws: _no_warnings(
            ["series", "--order", "1", "--schedule", "sgd:N=4", "--lr-schedule", "linear:1e308"])),
        Case("messages", "whatif --quantity ,", lambda ws: refused(_whatif(ws.stats_file, "--quantity", ","))),
        Case("messages", "whatif -o x.txt refused before the work",
             lambda ws: refused(_whatif(ws.stats_file, "-o", ws.path("x.txt")), ".png")),
    ]


_LIBRARY_NOTES = ("encountered in", "overflow", "UserWarning", "torch", "numpy")


def _no_warnings(argv: list[str]) -> str | None:
    """Refused in one line, and no NumPy/torch warning printed before it (our own warnings may stay)."""
    problem = refused(argv)
    if problem:
        return problem
    _, _, err = run_cli(argv)
    leaked = [ln for ln in err.splitlines() if ": warning:" in ln and any(n in ln for n in _LIBRARY_NOTES)]
    return None if not leaked else f"library warnings before the error: {leaked[0][:200]!r}"


def all_cases() -> list[Case]:
    """Every case of the catalog, grouped by surface."""
    return (_special_file_cases() + _json_reader_cases() + _statistics_cases() + _checkpoint_cases()
            + _cache_cases() + _duplicate_cases() + _ansi_cases() + _mathtext_cases() + _plot_cases()
            + _cost_cases() + _api_cases() + _misc_cases())
