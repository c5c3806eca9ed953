"""Defenses against the attacks: the receiver's audit of a shared model's samples and its
fairness mitigations (:mod:`.audit`, :mod:`.mitigation`, their tables and figure in
:mod:`.fpa_report`; on images, reading s off the samples and the CNN receiver in :mod:`.image`;
the ``diffshare audit`` command in :mod:`diffshare.cli`), and the sharer's
protections against property inference (:mod:`.pia`: rebalance, decoy sampling and the tables;
its figure in :mod:`.pia_plot`; DP-SGD training in :mod:`diffshare.generators.dp_training`)."""
