"""A tiny model for the output-fault tests (tests/test_output_faults.py, tests/data/fuzz/output.txt).

Importing it writes the file named by ``$HETCALC_TEST_IMPORT_MARKER``, when set: a test that
expects hetcalc to fail before any user code is imported asserts the file is not there. With
``$HETCALC_TEST_SLOW_BUILD`` set to a path, ``build`` writes that file and then sleeps, so that
a test can signal a run that is under way.
"""

import os
import pathlib
import time

from torch import nn

if os.environ.get("HETCALC_TEST_IMPORT_MARKER"):
    pathlib.Path(os.environ["HETCALC_TEST_IMPORT_MARKER"]).write_text("imported\n")


def build() -> nn.Module:
    if os.environ.get("HETCALC_TEST_SLOW_BUILD"):
        pathlib.Path(os.environ["HETCALC_TEST_SLOW_BUILD"]).write_text("building\n")
        time.sleep(60)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3))


build.input_shape = (1, 3, 8, 8)
