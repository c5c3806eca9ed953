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


def test_the_tabular_tracks_scoring_jobs_load_no_torch():
    """A selection, a classifier, an estimate or an audit on tables needs no torch: the jobs of
    those stages start a second or more sooner without it (only MINE and the shared models load
    it)."""
    code = (
        "import sys\n"
        "from diffshare.tracks import adapter\n"
        "adapter('tabular')\n"
        "import diffshare.attacks.fpa.selection, diffshare.defenses.audit\n"
        "import diffshare.defenses.mitigation, diffshare.reporting.claims\n"
        "print(sorted(m for m in ('torch', 'diffusers') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr
