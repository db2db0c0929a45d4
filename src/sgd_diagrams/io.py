"""Small I/O helpers: atomic writes and JSON encoding of numpy values."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .errors import SgdDiagramsError

__all__ = ["LineProgress", "atomic_write_text", "dumps", "emit", "progress_bar", "read_json_object", "read_untrusted_json",
           "to_jsonable"]


def to_jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays (recursively) to plain Python for JSON."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def dumps(obj: Any, indent: int | None = 2) -> str:
    """JSON text of ``obj`` (numpy-aware; NaN is refused so output is valid JSON)."""
    try:
        return json.dumps(to_jsonable(obj), indent=indent, allow_nan=False)
    except ValueError:
        raise SgdDiagramsError("result contains NaN or infinity; reduce eta or check the landscape") from None


def read_json_object(source: str | Path, what: str) -> dict[str, Any]:
    """The JSON object in file ``source`` (``what`` names it in errors), read as untrusted data: one-line errors."""
    path = Path(source)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SgdDiagramsError(f"cannot read {what} file {path}: {exc.strerror}; check the path") from None
    except UnicodeDecodeError:
        raise SgdDiagramsError(f"{what} file {path} is not text; pass a JSON file written by sgd-diagrams") from None
    try:
        obj = json.loads(text, parse_constant=lambda c: float("nan"))
    except json.JSONDecodeError as exc:
        raise SgdDiagramsError(f"{what} file {path} is not valid JSON ({exc.msg} at line {exc.lineno}); "
                               "pass the file written by sgd-diagrams") from None
    except RecursionError:
        raise SgdDiagramsError(f"{what} file {path} is nested too deeply; pass the file written by sgd-diagrams") \
            from None
    if not isinstance(obj, dict):
        raise SgdDiagramsError(f"{what} file {path} must hold a JSON object, got {type(obj).__name__}")
    return obj


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(fh)`` on a temporary binary file in ``path``'s folder, then rename it to ``path``.

    A reader never sees half a file, and a failed write leaves the old file untouched; an OS error is a
    one-line :class:`~sgd_diagrams.errors.SgdDiagramsError`.
    """
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise SgdDiagramsError(f"cannot write {p}: {exc.strerror}; choose a writable location") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fchmod(fh.fileno(), 0o666 & ~_umask())  # mkstemp makes 0600; outputs are shared like open() ones
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise SgdDiagramsError(f"cannot write {p}: {exc.strerror}; choose a writable location") from None
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def read_untrusted_json(path: str | Path, *, what: str, max_bytes: int) -> object:
    """The JSON value in ``path``, read as untrusted data; any problem is a one-line SgdDiagramsError.

    Refused: anything but a regular file (FIFO, device, folder), a file over ``max_bytes``, text that is not
    UTF-8 JSON, duplicate keys, nesting deeper than 64, numbers with more than 400 digits, NaN/Infinity.
    """
    import stat

    p = Path(path)
    try:
        st = os.stat(p)
    except OSError as exc:
        raise SgdDiagramsError(f"cannot read {what} {p}: {exc.strerror}; check the path") from None
    if not stat.S_ISREG(st.st_mode):
        raise SgdDiagramsError(f"{what} {p} is not a regular file; pass a JSON file")
    if st.st_size > max_bytes:
        raise SgdDiagramsError(f"{what} {p} is {st.st_size} bytes, over the limit of {max_bytes}; pass a smaller file")
    try:
        with open(p, "rb") as fh:
            raw = fh.read(max_bytes + 1)
        text = raw.decode("utf-8")
    except OSError as exc:
        raise SgdDiagramsError(f"cannot read {what} {p}: {exc.strerror}; check the path") from None
    except UnicodeDecodeError:
        raise SgdDiagramsError(f"{what} {p} is not UTF-8 text; pass a JSON file") from None
    if len(raw) > max_bytes:
        raise SgdDiagramsError(f"{what} {p} is over the limit of {max_bytes} bytes; pass a smaller file")

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in items:
            if k in out:
                raise ValueError(f"duplicate key {k[:40]!r}")
            out[k] = v
        return out

    def number(text: str) -> Any:
        if len(text) > 400:
            raise ValueError("a number with more than 400 digits")
        return float(text) if any(c in text for c in ".eE") else int(text)

    def constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    depth = cur = 0
    in_str = esc = False
    for ch in text:  # nesting depth, counted outside strings
        if in_str:
            esc, in_str = (False, True) if esc else (ch == "\\", ch != '"')
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            cur += 1
            depth = max(depth, cur)
        elif ch in "]}":
            cur -= 1
    if depth > 64:
        raise SgdDiagramsError(f"{what} {p} is nested {depth} deep (over 64); pass a JSON file written by sgd-diagrams")
    try:
        return json.loads(text, object_pairs_hook=pairs, parse_int=number, parse_float=number,
                          parse_constant=constant)
    except (ValueError, RecursionError) as exc:
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise SgdDiagramsError(f"{what} {p} is not valid JSON ({msg}); pass a JSON file written by sgd-diagrams") \
            from None


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically: a temporary file in the same folder, then rename."""
    data = text.encode("utf-8")
    atomic_write(path, lambda fh: fh.write(data))


def emit(payload: Any, table: str, as_json: bool, out: str | Path | None = None) -> None:
    """Print ``payload`` as JSON (or the readable ``table``), or write it atomically to ``out``."""
    text = dumps(payload) if as_json else table
    if out:
        atomic_write_text(out, text + "\n")
    else:
        print(text)


class LineProgress:
    """Progress for logs and pipes: one short line on stderr at most every ``interval`` seconds.

    Used instead of a progress bar when stderr is not a terminal (CI, ``nohup``, ``| tee``), so a long
    run is never silent; ``update(n)`` and ``close()`` mirror tqdm's.
    """

    def __init__(self, total: float, desc: str, unit: str, interval: float = 10.0) -> None:
        import time

        self.total, self.desc, self.unit, self.interval = float(total), desc, unit, interval
        self.done = 0.0
        self._clock = time.monotonic
        self.start = self._last = self._clock()

    def update(self, n: float = 1) -> None:
        self.done += n
        now = self._clock()
        if now - self._last >= self.interval:
            self._last = now
            self._print(now)

    def _print(self, now: float) -> None:
        import sys

        elapsed = now - self.start
        frac = self.done / self.total if self.total else 1.0
        left = f", ~{elapsed * (1 - frac) / frac:.0f} s left" if 0 < frac < 1 else ""
        print(f"{self.desc}: {100 * frac:.0f}% ({self.done:.0f}/{self.total:.0f} {self.unit}), "
              f"{elapsed:.0f} s elapsed{left}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._clock() - self.start >= self.interval:
            self._print(self._clock())


def progress_bar(total: float, desc: str, unit: str, enabled: bool = True) -> Any:
    """A tqdm bar on a terminal, a :class:`LineProgress` elsewhere, or None when not ``enabled``."""
    import sys

    if not enabled:
        return None
    if sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit=unit, leave=False)
    return LineProgress(total, desc, unit)
