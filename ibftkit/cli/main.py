"""``ibftkit``: the single CLI boundary where exceptions become one line and an exit status.

Subcommands are modules of this package listed in ``COMMANDS``; each has
``register(subparsers)`` which adds its parser with ``func=run``. Modules import their heavy
dependencies inside ``run`` so that ``ibftkit --help`` and the iBFT path stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from ..infra.errors import TOOL_STATUSES, IbftkitError, UsageError, exit_status
from ..infra.log import Log

# Order is the order shown in --help.
COMMANDS = ("decode", "rootpath", "dhcp", "plan", "net", "installer")  # modules; decode also registers encode

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so usage errors go through the one boundary."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="ibftkit", description="Read, check and use iSCSI boot parameters "
                            "(iBFT and DHCP root path).")
    parser.add_argument("--version", action="version", version=f"ibftkit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"{__package__}.{name}":
                continue  # not built yet
            raise
        module.register(sub)
    return parser


def seconds(text: str) -> float:
    """argparse type: a number of seconds >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0:  # also NaN
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number of seconds >= 0")
    return value


def count(text: str) -> int:
    """argparse type: a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number >= 0")
    return value


def tool_log(prog: str = "ibftkit") -> Log:
    """The ``ibftkit`` tool's log: the same ``Log`` as ``ibftkit-init``'s (one redacted line per
    message), on stderr only (the kernel log is for the boot path)."""
    return Log(prog=prog, kmsg=None)


def warn(message: str, prog: str = "ibftkit") -> None:
    """A warning line on stderr: the table or source is usable but something is odd."""
    tool_log(prog).warning(message)


def progress(message: str) -> None:
    """A progress line on stderr (``ibftkit dhcp -v``, ``ibftkit net apply``)."""
    tool_log().progress(message)


def report(prog: str, err: BaseException, *, debug: bool = False) -> None:
    """One line on stderr (plus an optional hint line); a traceback only under --debug."""
    if debug:
        import traceback

        traceback.print_exception(err)
    msg = str(err) if isinstance(err, IbftkitError) else f"internal error: {type(err).__name__}: {err}"
    print(f"{prog}: {msg}", file=sys.stderr)
    hint = getattr(err, "hint", None)
    if hint:
        print(f"{prog}: hint: {hint}", file=sys.stderr)


def guarded(prog: str, body: Callable[[], int], *, debug: bool) -> int:
    try:
        return body()
    except IbftkitError as e:
        report(prog, e, debug=debug)
        return exit_status(e, shown=TOOL_STATUSES)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as e:  # the boundary: never a traceback unless asked
        report(prog, e, debug=debug)
        return EXIT_FAIL


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list

    def body() -> int:
        parser = build_parser()
        args, extra = parser.parse_known_args(args_list)
        if extra:  # argparse names the top-level help here; the subcommand's is the one that helps
            words = [w for w in ("ibftkit", getattr(args, "command", None), getattr(args, "net_command", None)) if w]
            raise UsageError(f"unrecognized arguments: {' '.join(extra)} (see '{' '.join(words)} --help')")
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        return int(args.func(args))

    return guarded("ibftkit", body, debug=debug)


if __name__ == "__main__":
    sys.exit(main())
