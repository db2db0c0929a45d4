"""The ``sgd-diagrams`` command: one module per subcommand, shared options, one error handler.

Subcommands (``sgd-diagrams <command> --help`` for details):

* ``enumerate`` — list diagrams with d edges of a kind (test, train, displacement);
* ``series`` — Taylor coefficients of E[test loss | train loss | gen gap | displacement | variance];
* ``predict`` — Taylor, resummed, continuous-time or T → ∞ predictions at given η (exact or from samples);
* ``stats`` — named landscape statistics (G·ηG, tr(CηHη), …) estimated from samples, with errors;
  ``--out S.json`` saves them for ``predict --stats`` and ``whatif --stats`` (measure once);
* ``whatif`` — predicted test loss and gen gap ± stderr over η × batch size, epochs or momentum (heatmap);
* ``coefficients`` — symbolic Taylor coefficients for in-order SGD (N, B, E) or GD (N, T);
* ``draw`` — pictures of diagrams and of histories in their grid;
* ``simulate`` — SGD and its rivals over thousands of vectorized trials, an η sweep, with CIs;
* ``plot`` — a simulate + predict pair as theory bands vs simulation CIs over η (ηT on top);
* ``reproduce`` — every experiment of the papers: figure, numbers and a verdict (``--quick``, ``all``);
* ``demo`` — the main job on the built-in example.

Every command takes the same option names for the same things (:mod:`._options`).  Errors print one line
``sgd-diagrams <command>: error: …`` on stderr and exit with status 2 (no traceback; set
``SGD_DIAGRAMS_DEBUG=1`` to see one); warnings print ``sgd-diagrams <command>: warning: …`` unless
``--quiet``.  The parser is built without importing torch.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from .. import __version__
from ..backends import keep_freed_memory
from ..errors import SgdDiagramsError
from ..io import terminal_safe
from . import coefficients, demo, draw, plot, predict, reproduce, series, simulate, stats, whatif
from . import enumerate as enumerate_command
from ._options import join_negative_values

__all__ = ["build_parser", "main"]

COMMANDS = (enumerate_command, series, predict, stats, whatif, coefficients, draw, simulate, plot, reproduce,
            demo)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``sgd-diagrams`` parser with every subcommand registered."""
    parser = _Parser(prog="sgd-diagrams", description="Diagrammatic perturbation theory of SGD.")
    parser.add_argument("--version", action="version", version=f"sgd-diagrams {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


_NUMERIC_NOTES = ("encountered in", "overflow", "divide by zero", "Mean of empty slice", "Degrees of freedom")


def _foreign(message: str, filename: str) -> bool:
    """A warning that is not one of ours: NumPy floating-point notes, or raised inside another library.

    These are held back and printed after a successful command; before a one-line error they would only
    be noise (the error says what went wrong), so they are dropped then.
    """
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    inside = os.path.abspath(filename).startswith(package + os.sep)
    return not inside or any(note in message for note in _NUMERIC_NOTES)


class _TerminalSafeStream:
    """stdout for one command: control characters from file content (a landscape name with ANSI escapes or a
    carriage return) are written as ``\\x..``; newlines and tabs pass (tables are multi-line)."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(terminal_safe(text, keep_newlines=True))

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _thread_policy(args: argparse.Namespace) -> None:
    """One torch intra-op thread per process unless ``--threads N`` or ``$OMP_NUM_THREADS`` says otherwise.

    Measured on the 2-core development machine under load: two threads make sampling 3.6x slower in wall time
    and simulation 5-7x slower than one (threads spin while the cores are busy); parallelism comes from
    independent chunks (``--backend ray``, one thread per task) instead.
    """
    threads = getattr(args, "threads", None)
    if threads is None:
        if os.environ.get("OMP_NUM_THREADS"):
            return
        threads = 1
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise SgdDiagramsError(f"--threads must be a positive integer, got {threads!r}")
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    else:  # read by torch when it loads
        os.environ["OMP_NUM_THREADS"] = str(threads)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 bad input, 1 internal error, 130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(join_negative_values(list(sys.argv[1:] if argv is None else argv)))
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    prefix = f"sgd-diagrams {args.command}"
    quiet = getattr(args, "quiet", False)

    held: list[str] = []

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ARG001 - warnings API
        text = f"{prefix}: warning: {terminal_safe(_one_line(message))}"
        if _foreign(str(message), str(filename)):
            held.append(text)  # a library's floating-point or API note: shown only if the command succeeds
        elif not quiet:
            print(text, file=sys.stderr)

    debug = bool(os.environ.get("SGD_DIAGRAMS_DEBUG"))
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):  # other libraries' API notes
            warnings.filterwarnings("ignore", category=category, module=r"(?!sgd_diagrams)")
        warnings.showwarning = show
        stdout = sys.stdout
        sys.stdout = _TerminalSafeStream(stdout)
        try:
            _thread_policy(args)
            keep_freed_memory()
            status = int(args.run(args) or 0)
            if not quiet:
                for text in dict.fromkeys(held):
                    print(text, file=sys.stderr)
            return status
        except SgdDiagramsError as exc:
            if debug:
                raise
            print(f"{prefix}: error: {terminal_safe(_one_line(exc))}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"{prefix}: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:
            return 0
        except Exception as exc:  # no tracebacks for users; SGD_DIAGRAMS_DEBUG=1 shows them
            if debug:
                raise
            msg = str(exc).splitlines()[0] if str(exc) else ""
            print(f"{prefix}: internal error: {type(exc).__name__}: {terminal_safe(msg)} "
                  "(rerun with SGD_DIAGRAMS_DEBUG=1 and report it)", file=sys.stderr)
            return 1
        finally:
            sys.stdout = stdout


if __name__ == "__main__":
    sys.exit(main())
