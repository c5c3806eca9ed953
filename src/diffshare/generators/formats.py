"""The ``format`` each kind of saved model names in its folder's ``config.json``: the class
that reads the folder. A format may hold several families (``ctgan`` and ``tvae``; ``ddpm``
and ``edm``), told apart by the ``family`` beside it. Free of torch, so the registry in
:mod:`diffshare.generators` imports in an instant."""

TABULAR_DIFFUSION_FORMAT = "diffshare-tabular-diffusion"
CTGAN_FORMAT = "diffshare-ctgan-2"
IMAGE_DIFFUSION_FORMAT = "diffshare-image-diffusion"
SNGAN_FORMAT = "diffshare-sngan"
#: A plugin family's model (:mod:`diffshare.generators.plugins`): diffshare's config.json, the
#: plugin's own files in ``model/``.
PLUGIN_FORMAT = "diffshare-plugin"

#: Formats no longer read, each with the one that replaced it: a folder in one is refused with a
#: request to retrain. ``diffshare-ctgan`` held ctgan's own pickle (``model.pt``).
RETIRED_FORMATS = {"diffshare-ctgan": CTGAN_FORMAT}
