"""Gathering Snakemake's benchmark files into results/benchmarks.csv."""

import pytest

from diffshare.errors import DataError
from diffshare.reporting.benchmarks import BENCHMARK_COLUMNS, collect_benchmarks

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def test_one_row_per_job_and_repeat(tmp_path):
    folder = tmp_path / "benchmarks"
    (folder / "train_generator/adult/tabddpm/full").mkdir(parents=True)
    (folder / "train_generator/adult/tabddpm/full/seed~0.tsv").write_text(
        HEADER + "12.5\t0:00:12\t512.3\t900\t1\t1\t0\t0\t95\t20.1\n"
    )
    (folder / "fpa").mkdir()
    # A job too short for psutil to sample: memory is "-".
    (folder / "fpa/adult.tsv").write_text(
        HEADER + "0.2\t0:00:00\t-\t-\t-\t-\t-\t-\t-\t0\n" + "0.3\t0:00:00\t-\t-\t-\t-\t-\t-\t-\t0\n"
    )
    table = collect_benchmarks(folder)
    assert list(table.columns) == BENCHMARK_COLUMNS
    assert table[["rule", "wildcards", "repeat"]].values.tolist() == [
        ["fpa", "adult", 0],
        ["fpa", "adult", 1],
        ["train_generator", "adult/tabddpm/full/seed~0", 0],
    ]
    assert table["seconds"].tolist() == [0.2, 0.3, 12.5]
    assert table["max_rss_mb"].iloc[2] == 512.3 and table["max_rss_mb"].iloc[:2].isna().all()


def test_a_file_that_is_not_a_benchmark_is_named(tmp_path):
    (tmp_path / "rule").mkdir()
    (tmp_path / "rule/x.tsv").write_text("seconds\n1\n")
    with pytest.raises(DataError, match=r"rule/x.tsv has no column 's'"):
        collect_benchmarks(tmp_path)
