"""The property inference attack (PIA): the receiver estimates a private proportion of the
sharer's training data from samples of the shared model.

The sharer's table holds a share ``p`` of rows with a property (``sex == Female``, say). The
receiver draws ``n`` samples, labels each with a property discriminator ``g`` and estimates
``p_hat = mean g(x)``. If ``g`` is unbiased and the samples follow the sharer's distribution,
Hoeffding's inequality gives ``P(|p_hat - p| >= eps) <= 2 exp(-2 n eps^2)``, so
``eps(n, delta) = sqrt(ln(2 / delta) / (2 n))``
(:func:`~diffshare.attacks.pia.bounds.hoeffding_eps`).

The attacks:

- ``column``: the samples carry the property column; ``g`` reads it (tables).
- ``aux``: ``g`` is a classifier the receiver trains on auxiliary data (a real split disjoint from
  the sharer's pool) without the property column; its hard predictions are averaged.
- ``aux_corrected``: the ``aux`` estimate corrected with the classifier's true- and false-positive
  rates measured on held-out auxiliary rows, ``(p_hat - FPR) / (TPR - FPR)`` clipped to [0, 1]
  (:func:`~diffshare.attacks.pia.estimate.correct`).
- ``zero_shot``: ``g`` is CLIP asked with prompts, no auxiliary data (images).

Modules: :mod:`~diffshare.attacks.pia.property` (the property, the sharer's rows at an exact
ratio), :mod:`~diffshare.attacks.pia.discriminator` (the discriminator protocol, its settings,
its rates), :mod:`~diffshare.attacks.pia.estimate` (the one estimation skeleton of both tracks),
:mod:`~diffshare.attacks.pia.bounds` (Hoeffding). The result tables and figures are in
:mod:`diffshare.reporting`.
"""
