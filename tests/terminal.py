"""Running hetcalc with its standard output on a pseudo-terminal, as a person at a terminal
sees it (the tests of colour, progress and 80-column tables)."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios


def on_a_terminal(args: list[str], env: dict[str, str], columns: int = 80,
                  cwd=None, stderr_too: bool = False) -> tuple[int, str, str]:
    """``python -m hetcalc ARGS`` with stdout on a pty ``columns`` wide: (exit code, what the
    terminal received, stderr). ``stderr_too``: stderr on the same terminal (what it received
    includes stderr's, and the stderr returned is empty)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    try:
        done = subprocess.run([sys.executable, "-m", "hetcalc", *args], stdout=follower,
                              stderr=follower if stderr_too else subprocess.PIPE, env=env,
                              cwd=cwd, timeout=300)
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end closed: all read
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)
    text = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
    return done.returncode, text, (done.stderr or b"").decode("utf-8", "replace")
