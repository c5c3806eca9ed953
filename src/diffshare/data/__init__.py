"""Datasets, read from local files into prepared train and test splits: tables
(:mod:`~diffshare.data.tabular`, with the column roles of :mod:`~diffshare.data.schema`) and
images (:mod:`~diffshare.data.images` for the sources, :mod:`~diffshare.data.image_catalogue`
for an ``image_datasets`` entry)."""
