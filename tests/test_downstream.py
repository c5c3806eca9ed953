import numpy as np
import pytest

from conftest import REPO
from diffshare.data.tabular import DatasetSpec, prepare
from diffshare.errors import ConfigError, DataError
from diffshare.evaluation.fairness import evaluate
from diffshare.receivers.tabular import CLASSIFIERS, make_classifier, train_and_predict


@pytest.fixture(scope="module")
def german(catalogue):
    return prepare(DatasetSpec.from_config("german", catalogue["german"], REPO))


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifier_beats_the_majority_class_on_german(german, name):
    train, test, schema = german
    predictions = train_and_predict(name, train, test, schema, seed=0)
    assert list(predictions.columns) == ["y_true", "y_pred", "y_score", "s"]
    assert predictions.index.equals(test.index)
    assert predictions["y_score"].between(0, 1).all()
    assert evaluate(predictions)["accuracy"] > 0.71  # majority class: 0.70


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_without_the_sensitive_column_predictions_ignore_it(german, name):
    train, test, schema = german
    flipped = test.copy()
    flipped["sex"] = (
        flipped["sex"].map({"male": "female", "female": "male"}).astype(test["sex"].dtype)
    )
    kwargs = dict(use_sensitive=False, seed=0)
    original = train_and_predict(name, train, test, schema, **kwargs)
    changed = train_and_predict(name, train, flipped, schema, **kwargs)
    np.testing.assert_allclose(original["y_score"], changed["y_score"])
    assert (original["s"] != changed["s"]).all()


def test_with_the_sensitive_column_logreg_uses_it(german):
    train, test, schema = german
    flipped = test.copy()
    flipped["sex"] = (
        flipped["sex"].map({"male": "female", "female": "male"}).astype(test["sex"].dtype)
    )
    original = train_and_predict("logreg", train, test, schema)
    changed = train_and_predict("logreg", train, flipped, schema)
    assert not np.allclose(original["y_score"], changed["y_score"])


def test_unknown_classifier_is_named(german):
    with pytest.raises(ConfigError, match=r"unknown classifier 'svm'"):
        make_classifier("svm", german[2])


def test_bad_classifier_parameter_is_named(german):
    with pytest.raises(ConfigError, match=r"classifier 'logreg': invalid parameter.*max_depth"):
        make_classifier("logreg", german[2], params={"max_depth": 3})


def test_training_table_with_one_label_is_refused(german):
    train, test, schema = german
    only_good = train[train["credit"] == "good"]
    with pytest.raises(DataError, match="only one label value"):
        train_and_predict("logreg", only_good, test, schema)
