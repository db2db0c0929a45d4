"""Small I/O helpers: atomic writes, JSON encoding of numpy values, and the one reading layer for untrusted files."""

from __future__ import annotations

import json
import math
import os
import re
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .errors import SgdDiagramsError

__all__ = [
    "MAX_JSON_DEPTH",
    "LineProgress",
    "atomic_write",
    "atomic_write_text",
    "dumps",
    "emit",
    "parse_untrusted_json",
    "progress_bar",
    "read_json_object",
    "read_untrusted_bytes",
    "read_untrusted_json",
    "read_untrusted_text",
    "terminal_safe",
    "to_jsonable",
]


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


def read_json_object(source: str | Path, what: str, max_bytes: int) -> dict[str, Any]:
    """The JSON object in file ``source`` (``what`` names it in errors), read through the untrusted-input layer
    (:func:`read_untrusted_json`, at most ``max_bytes``, NaN allowed as our writers emit it): one-line errors."""
    path = Path(source)
    obj = read_untrusted_json(path, what=what, max_bytes=max_bytes, allow_nan=True)
    if not isinstance(obj, dict):
        raise SgdDiagramsError(f"{what} file {_short(path)} must hold a JSON object, got {type(obj).__name__}")
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


# --- the one reading layer for untrusted files ------------------------------------------------------------------
#
# Every file a user hands us (landscape, schedule, statistics, checkpoint, plot input, cache entry, report) is read
# through :func:`read_untrusted_bytes`: opened once without blocking, required to be a regular file (after symlinks
# are resolved, so a link to /dev/zero or a FIFO is refused), and read up to ``max_bytes + 1`` bytes so a size cap
# holds even where ``stat()`` reports 0.  JSON goes through :func:`parse_untrusted_json`: duplicate keys refused,
# nesting and number size bounded, every parser exception turned into the one-line contract.

MAX_JSON_DEPTH = 64  # nesting of any JSON file we read (ours are at most ~6 deep)
MAX_JSON_INT_DIGITS = 300  # integers beyond 1e300 overflow float64 arithmetic downstream


def _short(path: Any) -> str:
    """A path or name as printed in one-line messages: control characters escaped, at most 120 characters."""
    text = terminal_safe(str(path))
    return text if len(text) <= 120 else text[:117] + "..."


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROL_BUT_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}"


def terminal_safe(text: Any, keep_newlines: bool = False) -> str:
    """``text`` with every control character (ANSI escapes, newlines, NUL, DEL, C1, bidi overrides) shown as
    ``\\x..`` (or ``\\u....``); with ``keep_newlines``, newlines and tabs stay (multi-line tables).

    Names from files (landscapes, optimizers, labels) are printed to a terminal; a raw ESC could clear the
    screen and a raw newline could forge an ``error:`` line.
    """
    return (_CONTROL_BUT_LINES if keep_newlines else _CONTROL).sub(_escaped, str(text))


def read_untrusted_bytes(path: str | os.PathLike[str], *, what: str, max_bytes: int) -> bytes:
    """The bytes of the regular file ``path`` (at most ``max_bytes``), else a one-line :class:`SgdDiagramsError`.

    Opened once, non-blocking (a FIFO never hangs the open), checked with ``fstat`` on the open descriptor
    (symlinks resolved: devices, FIFOs, sockets and folders are refused), and read up to ``max_bytes + 1``
    bytes, so a file growing or lying about its size cannot exceed the cap.
    """
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)):
        raise SgdDiagramsError(f"{what} must be a file path, got {type(path).__name__}; pass a path to a file")
    shown = _short(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise SgdDiagramsError(f"cannot read {what} file {shown}: it does not exist; check the path") from None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "invalid path"
        raise SgdDiagramsError(f"cannot read {what} file {shown}: {reason}; check the path") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = ("a folder" if stat.S_ISDIR(info.st_mode) else "a FIFO" if stat.S_ISFIFO(info.st_mode)
                    else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
                    else "a socket" if stat.S_ISSOCK(info.st_mode) else "not a regular file")
            raise SgdDiagramsError(f"{what} file {shown} is {kind}, not a regular file; pass a regular file")
        if info.st_size > max_bytes:
            raise SgdDiagramsError(f"{what} file {shown} has {info.st_size} bytes, over the limit of {max_bytes}; "
                                   "pass a smaller file")
        chunks: list[bytes] = []
        left = max_bytes + 1
        while left > 0:
            block = os.read(fd, min(left, 1 << 20))
            if not block:
                break
            chunks.append(block)
            left -= len(block)
    except OSError as exc:
        raise SgdDiagramsError(f"cannot read {what} file {shown}: {exc.strerror}; check the path") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise SgdDiagramsError(f"{what} file {shown} is over the limit of {max_bytes} bytes; pass a smaller file")
    return data


def read_untrusted_text(path: str | os.PathLike[str], *, what: str, max_bytes: int) -> str:
    """:func:`read_untrusted_bytes` decoded as UTF-8 (a one-line error for anything else)."""
    data = read_untrusted_bytes(path, what=what, max_bytes=max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SgdDiagramsError(f"{what} file {_short(path)} is not UTF-8 text; pass the JSON file it should be") \
            from None


class _DuplicateKey(Exception):
    pass


class _BadNumber(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKey(key)
        obj[key] = value
    return obj


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_JSON_INT_DIGITS:
        raise _BadNumber(f"an integer with {len(text.lstrip('-'))} digits")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _BadNumber(f"{text[:20]} (beyond float64)")
    return value


def _json_depth_within(obj: Any, limit: int) -> bool:
    """Whether ``obj``'s nesting of lists and objects is at most ``limit`` (iterative: no recursion)."""
    stack = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (list, dict)):
            if depth > limit:
                return False
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return True


def parse_untrusted_json(text: str | bytes, *, what: str, source: Any = None, allow_nan: bool = False) -> object:
    """Parse JSON from an untrusted source; anything but plain bounded JSON is a one-line error.

    Refused: invalid JSON, duplicate keys (the last would silently win), nesting deeper than
    :data:`MAX_JSON_DEPTH`, integers over :data:`MAX_JSON_INT_DIGITS` digits, floats beyond float64 and (unless
    ``allow_nan``) the non-standard constants ``NaN``/``Infinity``.  ``ValueError``, ``RecursionError`` and
    ``OverflowError`` from the parser all become :class:`SgdDiagramsError`.
    """
    where = f"{what} file {_short(source)}" if source is not None else what
    remedy = "pass the file sgd-diagrams wrote, or fix it"
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise SgdDiagramsError(f"{where} is not UTF-8 text; {remedy}") from None

    def constant(name: str) -> float:
        if not allow_nan:
            raise _BadNumber(f"the non-standard constant {name}")
        return float(name.replace("Infinity", "inf"))

    try:
        obj = json.loads(text, object_pairs_hook=_no_duplicates, parse_int=_bounded_int, parse_float=_finite_float,
                         parse_constant=constant)
    except _DuplicateKey as exc:
        raise SgdDiagramsError(f"{where} has the key {_short(exc.args[0])!r} twice; keep one") from None
    except _BadNumber as exc:
        raise SgdDiagramsError(f"{where} holds {exc.args[0]}, out of range; {remedy}") from None
    except json.JSONDecodeError as exc:
        raise SgdDiagramsError(f"{where} is not valid JSON (line {exc.lineno}: {exc.msg}); {remedy}") from None
    except RecursionError:
        raise SgdDiagramsError(f"{where} is nested too deeply (over {MAX_JSON_DEPTH} levels); {remedy}") from None
    except (ValueError, OverflowError, MemoryError) as exc:
        raise SgdDiagramsError(f"{where} cannot be read as JSON ({type(exc).__name__}); {remedy}") from None
    if not _json_depth_within(obj, MAX_JSON_DEPTH):
        raise SgdDiagramsError(f"{where} is nested too deeply (over {MAX_JSON_DEPTH} levels); {remedy}")
    return obj


def read_untrusted_json(path: str | os.PathLike[str], *, what: str, max_bytes: int, allow_nan: bool = False) -> object:
    """The JSON value in the regular file ``path``: :func:`read_untrusted_bytes` then :func:`parse_untrusted_json`.

    Every failure (not a regular file, over ``max_bytes``, not UTF-8, invalid or unbounded JSON, duplicate keys)
    is a one-line :class:`SgdDiagramsError` naming ``what`` and the file.  ``allow_nan`` reads the non-standard
    ``NaN``/``Infinity`` constants (for readers that then refuse non-finite values with a field-specific message).
    """
    data = read_untrusted_bytes(path, what=what, max_bytes=max_bytes)
    return parse_untrusted_json(data, what=what, source=path, allow_nan=allow_nan)
