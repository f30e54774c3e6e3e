"""scipy.stats is imported on first use, not with the package (0.8 s of every command's start)."""

from __future__ import annotations

import subprocess
import sys

from scipy import stats

from geo_stunting.stats import _tables, _twobytwo


def test_the_normal_quantile_literal_is_scipys():
    assert float(stats.norm.ppf(0.975)) == _twobytwo._Z975
    assert float(stats.norm.ppf(0.975)) == _tables._Z975


def test_importing_the_package_and_its_command_line_leaves_scipy_stats_unloaded():
    code = "import sys, geo_stunting, geo_stunting.cli; print('scipy.stats' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
