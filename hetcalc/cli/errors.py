"""How failures reach the terminal: one line on stderr and an exit code, decided here only.

- :class:`~hetcalc.errors.HetcalcError` (bad input, a model that cannot be analysed):
  ``hetcalc: error: ...``, exit 2. An :class:`~hetcalc.errors.InvalidArgument` about a library
  argument is told in the command's words: the argument's name at the head of the message
  becomes the flag that fed it (``min_run_time must be ...`` -> ``--time-budget must be ...``).
- A usage error (unknown option, missing argument, bad value): the same line, pointing to the
  command's help, exit 2.
- Output that cannot be written (``--output``, ``--plot``, ``--write-baseline`` or
  ``$GITHUB_STEP_SUMMARY`` unwritable, refused or failing; standard output full, closed, or
  unable to hold the text): ``hetcalc: error: ...``, exit 2, checked before any model is built
  where it can be. Standard error itself unwritable: exit 2, nothing said. A reader that has gone
  (``hetcalc ... | head``): exit 141, nothing said (:mod:`hetcalc.cli.streams`).
- Ctrl-C: ``hetcalc: interrupted``, exit 130. SIGTERM: ``hetcalc: terminated``, exit 143
  (128 + 15); either way no temporary file is left behind.
- Anything else is a bug: ``hetcalc: internal error: ...``, exit 3.
With ``--debug`` a traceback comes first.
"""

from __future__ import annotations

from hetcalc.errors import HetcalcError, InvalidArgument

EXIT_ERROR = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
EXIT_BROKEN_PIPE = 141

# The flags that feed the library's arguments: the same for every command that has them.
ARGUMENT_FLAGS = {
    "part": "--P",
    "variant": "--variant",
    "variants": "--variants",
    "input_shape": "--input-shape",
    "include_first": "--include-first",
    "merge_pairs": "--merge-dw-pw",
    "fold_bn": "--fold-bn",
    "impl": "--impl",
    "min_run_time": "--time-budget",
    "device": "--device",
    "dtype": "--dtype",
    "batch_size": "--batch-size",
    "threads": "--threads",
    "weights": "--weights",
    "pretrained": "--pretrained",
    "calibration": "--calibration",
    "channels_last": "--channels-last",
    "compile": "--compile",
    "plot": "--plot",
    "device_spec": "--device-spec",
    "timeout": "--timeout",
    "tree": "--depth",
}

# Per command (every command of ``hetcalc.cli.application.COMMANDS`` has an entry), the flags
# that feed the library arguments its messages may name. ``check`` reads most of its arguments
# from a budget file, whose keys its messages already name.
COMMAND_FLAGS: dict[str, dict[str, str]] = {
    "analyze": ARGUMENT_FLAGS,
    "compare": ARGUMENT_FLAGS,
    "plan": {**ARGUMENT_FLAGS, "max_flops": "--max-flops", "max_params": "--max-params",
             "max_latency_ms": "--max-latency-ms", "choices": "--choices", "keep": "--keep"},
    "curve": {"kernel": "--kernel", "channels": "--channels", "max_part": "--max-part",
              "parts": "--max-part", "plot": "--plot"},
    "designs": {"max_length": "--max-length", "kernels": "--kernels", "channels": "--channels",
                "in_channels": "--channels", "out": "--out", "out_channels": "--out",
                "bottleneck": "--bottleneck-channels", "budget": "--budget-params",
                "plot": "--plot"},
    "check": {"tolerance": "--tolerance"},
    "models": {},
    "device": {"device": "--device", "threads": "--threads", "dtype": "--dtype",
               "device_spec": "--spec"},
    "schema": {},
}


LIBRARIES = ("torch", "torchvision", "fvcore")
"""The libraries hetcalc cannot run without: one that fails while it is imported is a broken
installation, not a bug of hetcalc's."""


def broken_install(error: BaseException) -> str | None:
    """The line for an error raised while one of :data:`LIBRARIES` was being imported (a
    torchvision built for another torch: ``operator torchvision::nms does not exist``), or
    None. Judged from the traceback: a frame of the library's own files at module level."""
    import importlib.util
    import os

    roots = {}
    for name in LIBRARIES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        for location in (spec.submodule_search_locations or []) if spec else []:
            roots[os.path.realpath(location) + os.sep] = name
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        tb = current.__traceback__
        while tb is not None:
            code = tb.tb_frame.f_code
            path = os.path.realpath(code.co_filename)
            library = next((n for root, n in roots.items() if path.startswith(root)), None)
            if library is not None and code.co_name == "<module>":
                return (f"{library} fails to load ({type(error).__name__}: {error}): the "
                        "installation is broken; install torch and torchvision together from "
                        "one index (docs/install.md)")
            tb = tb.tb_next
        current = current.__cause__ or current.__context__
    return None


def in_flag_terms(error: HetcalcError, command: str | None) -> str:
    """The message of ``error``, with a library argument's name replaced by its flag."""
    message = str(error)
    argument = error.argument if isinstance(error, InvalidArgument) else None
    flags = COMMAND_FLAGS.get(command or "", {})
    flag = flags.get(argument or "")
    if flag is None or not message.startswith(argument):
        return message
    return flag + message[len(argument):]


def usage_line(error: Exception, command: str | None = None) -> str:
    """A click usage error in one line, pointing to the help of the command it is about
    (``command``, the subcommand being parsed, where the error does not carry its context)."""
    message = error.format_message() if hasattr(error, "format_message") else str(error)
    message = " ".join(message.replace("Value error, ", "").split())
    ctx = getattr(error, "ctx", None)
    fallback = f"hetcalc {command}" if command else "hetcalc"
    command_path = ctx.command_path if ctx is not None else fallback
    return f"{message} (see '{command_path} --help')"


def is_usage_error(error: Exception) -> bool:
    """A click usage error (Typer's own copy of click or click itself): it knows its exit code
    and how to say what went wrong."""
    return hasattr(error, "exit_code") and hasattr(error, "format_message")
