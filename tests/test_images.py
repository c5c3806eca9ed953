"""Image loaders on the bundled digits and on tiny fixtures in the official folder layouts."""

import gzip

import numpy as np
import pytest
from PIL import Image

from conftest import REPO
from diffshare.data.images import (
    ImageSet,
    colored_mnist,
    load_afad,
    load_celeba,
    load_mnist_folder,
    read_idx,
    read_mnist_csv,
)
from diffshare.errors import DataError

MNIST_CSV = REPO / "resources/data/mnist/mnist_5k.csv.gz"
MNIST_SHA256 = "167bbe5fc3dfbce27f9a4c6c1814964f3367677ee226d9811d79cbd41fd5d053"


@pytest.fixture(scope="module")
def digits():
    return read_mnist_csv(MNIST_CSV, MNIST_SHA256)


def test_bundled_digits(digits):
    assert digits.images.shape == (5000, 32, 32, 1) and digits.images.dtype == np.uint8
    assert np.bincount(digits.attributes["digit"]).tolist() == [500] * 10
    # Resizing keeps the strokes: bright centre, dark border.
    assert digits.images[:, 12:20, 12:20].mean() > 4 * digits.images[:, :3, :].mean()


def test_altered_digits_file_is_refused(tmp_path):
    bad = tmp_path / "mnist.csv"
    bad.write_text(",".join(["0"] * 784) + ",3\n")
    with pytest.raises(DataError, match="has SHA-256"):
        read_mnist_csv(bad, MNIST_SHA256)
    bad.write_text(",".join(["0"] * 780) + ",3\n")
    with pytest.raises(DataError, match="expected 785 columns"):
        read_mnist_csv(bad)


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


def test_full_mnist_from_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(7))
    np.testing.assert_array_equal(read_idx(tmp_path / "t10k-images-idx3-ubyte.gz"), images)
    test = load_mnist_folder(tmp_path, "test")
    assert test.images.shape == (7, 32, 32, 1) and test.attributes["digit"].tolist() == list(
        range(7)
    )
    with pytest.raises(DataError, match="lacks train-images-idx3-ubyte"):
        load_mnist_folder(tmp_path, "train")
    (tmp_path / "bad").write_bytes(b"\x00\x00\x0d\x01")
    with pytest.raises(DataError, match="not an unsigned-byte IDX file"):
        read_idx(tmp_path / "bad")


def test_colored_mnist_colour_is_independent_of_the_label(digits):
    coloured = colored_mnist(digits, seed=0)
    images, s, y = coloured.images, coloured.attributes["s"], coloured.attributes["y"]
    assert images.shape == (5000, 32, 32, 3)
    assert (images[s == 1][..., 1:] == 0).all() and (images[s == 0][..., [0, 2]] == 0).all()
    np.testing.assert_array_equal(images[s == 1][..., 0], digits.images[s == 1][..., 0])
    np.testing.assert_array_equal(y, digits.attributes["digit"] >= 5)
    # P(s = 1 | y) is the same for both labels, up to sampling noise (about 0.014 here).
    assert abs(s[y == 1].mean() - s[y == 0].mean()) < 0.05
    assert abs(s.mean() - 0.5) < 0.03


def picture(path, colour, size=(178, 218)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


def test_celeba_official_layout(tmp_path):
    names = ["000001.jpg", "000002.jpg", "000003.jpg"]
    for name, colour in zip(names, [(255, 0, 0), (0, 255, 0), (0, 0, 255)], strict=True):
        picture(tmp_path / "img_align_celeba" / name, colour)
    (tmp_path / "list_attr_celeba.txt").write_text(
        "3\nMale Smiling Young \n000001.jpg  1 -1  1\n000002.jpg -1  1  1\n000003.jpg  1  1 -1\n"
    )
    (tmp_path / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg 0\n000003.jpg 2\n")
    train = load_celeba(tmp_path, "train")
    assert train.images.shape == (2, 32, 32, 3)
    assert train.attributes["Male"].tolist() == [1, 0]
    assert train.attributes["Smiling"].tolist() == [0, 1]
    red = train.images[0].reshape(-1, 3).mean(axis=0)  # a JPEG of plain red stays red
    assert red[0] > 250 and red[1:].max() < 5
    assert load_celeba(tmp_path, "test").attributes["Young"].tolist() == [0]
    with pytest.raises(DataError, match="no images in split 'valid'"):
        load_celeba(tmp_path, "valid")


def test_afad_layout(tmp_path):
    picture(tmp_path / "18/111/a.jpg", (10, 10, 10), size=(60, 80))
    picture(tmp_path / "18/112/b.jpg", (20, 20, 20), size=(60, 80))
    picture(tmp_path / "35/112/c.jpg", (30, 30, 30), size=(60, 80))
    faces = load_afad(tmp_path)
    assert faces.images.shape == (3, 32, 32, 3)
    assert faces.attributes["age"].tolist() == [18, 18, 35]
    assert faces.attributes["male"].tolist() == [1, 0, 0]
    assert faces.attributes["young"].tolist() == [1, 1, 0]
    (tmp_path / "35/113").mkdir()
    with pytest.raises(DataError, match="'113' is not 111 or 112"):
        load_afad(tmp_path)


def test_image_sets_round_trip_without_pickle(digits, tmp_path):
    part = digits.subset(np.arange(10))
    part.save(tmp_path / "part.npz")
    again = ImageSet.load(tmp_path / "part.npz")
    np.testing.assert_array_equal(again.images, part.images)
    np.testing.assert_array_equal(again.attributes["digit"], part.attributes["digit"])
    with pytest.raises(DataError, match="has 3 values for 10 images"):
        ImageSet(part.images, {"digit": np.arange(3)})
