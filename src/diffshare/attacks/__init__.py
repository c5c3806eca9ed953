"""The paper's two attacks as cores that know no kind of data: they read arrays (features,
groups, labels, MINE terms, 0/1 indicators; a property reads one column of a table of
attributes, and a discriminator reads whatever rows it was built for).

- :mod:`~diffshare.attacks.fpa`: fairness poisoning, MINE terms and the sharer's selections.
- :mod:`~diffshare.attacks.pia`: property inference, the property, the discriminator protocol,
  the estimators, Hoeffding's bound and the rate correction.

:mod:`diffshare.tracks` adapts tables and images to them.
"""
