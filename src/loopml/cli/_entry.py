"""The ``loopml`` console script.

``loopml data status`` with nothing changed is answered here, from the pointer files and
the state cache alone, before the whole CLI (typer, every command module, the tracking
stores) is loaded: it is the command typed most often, and start-up was most of its time.
Everything else, and any status that is not plainly unchanged, goes to
:func:`loopml.cli.main.main`.
"""

from __future__ import annotations

import gc
import sys

__all__ = ["main"]


def _quick_status(json_out: bool) -> int | None:
    from loopml.data.quick import quick_status

    entries = quick_status(meanwhile=lambda: _load_output(json_out))
    if entries is None:
        return None
    from loopml.cli._output import print_json, print_table

    if json_out:
        print_json(
            [
                {
                    "path": e.path,
                    "name": e.name,
                    "version": e.version,
                    "state": e.state,
                    "added": [],
                    "removed": [],
                    "changed": [],
                }
                for e in entries
            ]
        )
    else:
        rows = [[e.path, f"{e.name}@{e.version}", e.state, "", "", ""] for e in entries]
        print_table(["path", "version", "state", "added", "removed", "changed"], rows)
    return 0


def _load_output(json_out: bool) -> None:
    """Import what printing the answer needs: called while the folders are listed (in a
    child process, on another core), it takes its 50 ms (rich) off the command's time; the
    full command needs the same modules when the answer is not plain."""
    import loopml.cli._output  # noqa: F401

    if not json_out:
        from rich import console, table  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    """Run the CLI (see :func:`loopml.cli.main.main`); ``argv`` None means the process's
    own command line, as the console script runs it."""
    args = sys.argv[1:] if argv is None else argv
    if args[:2] == ["data", "status"] and set(args[2:]) <= {"--json"}:
        # A short run that makes little garbage: collecting it costs more than it frees.
        collecting = gc.isenabled()
        gc.disable()
        try:
            code = _quick_status("--json" in args)
        finally:
            if collecting:
                gc.enable()
        if code is not None:
            if argv is None:  # the process's own command line: it ends now
                gc.freeze()  # so that the final collection at exit skips rich's objects
            return code
    from loopml.cli.main import main as full_main

    return full_main(argv)


if __name__ == "__main__":
    sys.exit(main())
