"""The fairness poisoning attack (FPA): the sharer chooses the shared model's training subset so
that the receiver's classifiers become unfair while staying accurate.

- :mod:`~diffshare.attacks.fpa.mine`: I(S;Y) from counts and I(X;Y) with MINE (per-row terms).
- :mod:`~diffshare.attacks.fpa.selection`: random, label-flipped and greedy selections, on arrays
  (groups ``s``, labels ``y``, MINE row terms) of any kind of data.
"""
