"""The receiver's classifiers, trained on the shared model's samples: scikit-learn pipelines on
tables (:mod:`~diffshare.receivers.tabular`), the paper's CNN on images
(:mod:`~diffshare.receivers.cnn`), and CLIP image features and zero-shot labels from local
weights (:mod:`~diffshare.receivers.clip`). The same classifiers serve as property
discriminators (:mod:`diffshare.attacks.pia.discriminator`)."""
