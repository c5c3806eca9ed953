"""The property inference attack (PIA): the receiver estimates a private proportion of the
sharer's training data from samples of the shared model.

The sharer's table holds a share ``p`` of rows with a property (``sex == Female``, say). The
receiver draws ``n`` samples, labels each with a property discriminator ``g`` and estimates
``p_hat = mean g(x)``. If ``g`` is unbiased and the samples follow the sharer's distribution,
Hoeffding's inequality gives ``P(|p_hat - p| >= eps) <= 2 exp(-2 n eps^2)``, so
``eps(n, delta) = sqrt(ln(2 / delta) / (2 n))`` (:func:`hoeffding_eps`).

Three discriminators (attacks):

- ``column``: the samples carry the property column; ``g`` reads it.
- ``aux``: ``g`` is a classifier the receiver trains on auxiliary data (a real split disjoint from
  the sharer's pool) without the property column; its hard predictions are averaged.
- ``aux_corrected``: the ``aux`` estimate corrected with the classifier's true- and false-positive
  rates measured on held-out auxiliary rows, ``(p_hat - FPR) / (TPR - FPR)`` clipped to [0, 1]
  (:func:`correct`).

Stage functions: :func:`ratio_subset` (pool -> the sharer's table at an exact ratio),
:func:`estimate_property` (samples + auxiliary data -> one estimate per attack, query count and
repeat); the result tables and figures are in :mod:`diffshare.reporting`.
"""
