"""diffshare: what goes wrong when organisations share a diffusion model instead of their data.

The library behind the diffshare Snakemake workflow. It reproduces Luo et al., "Exploring Privacy
and Fairness Risks in Sharing Diffusion Models: An Adversarial Perspective" (IEEE TIFS 2024).
Every stage of the workflow is a function here; the workflow only moves files between them.
"""

from diffshare.errors import ConfigError, DataError, DiffshareError

__version__ = "0.1.0"
__all__ = ["ConfigError", "DataError", "DiffshareError", "__version__"]
