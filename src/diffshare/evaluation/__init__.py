"""What the receiver's classifiers and the shared models are worth, whatever the attack:
fairness and accuracy of predictions (:mod:`~diffshare.evaluation.fairness`, with fairlearn) and
the column-by-column fidelity of a synthetic table (:mod:`~diffshare.evaluation.fidelity`)."""
