"""The public API: one short list, importable from `diffshare`, loaded on first use."""

import subprocess
import sys

import diffshare


def test_every_public_name_resolves():
    for name in diffshare.__all__:
        assert getattr(diffshare, name) is not None, name


def test_importing_the_package_loads_no_torch():
    code = "import sys, diffshare; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
