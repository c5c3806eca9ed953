"""Tabular datasets: parse the raw files a dataset description names into typed tables.

A dataset is described by a plain mapping (an entry of ``config/datasets.yaml``), so a new
tabular dataset needs a config entry and no code: which files, how they are separated, which
columns are numeric and which categorical, the label and its positive value, the sensitive
attribute and its privileged value. :func:`prepare` turns the description into a train and a test
table (pandas, categorical columns as ``category`` with one category set shared by both splits)
and a :class:`~diffshare.data.schema.TableSchema` that travels beside the tables so later stages
know each column's role.

The row index of every table is ``row_id``: the position of the row in its raw file (0-based,
data rows only), stable whatever rows are dropped.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Mapping
from copy import copy
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from diffshare.data.schema import ColumnRoles, TableSchema
from diffshare.errors import ConfigError, DataError
from diffshare.storage import read_verified

log = logging.getLogger(__name__)

#: Category given to missing categorical values when ``drop_missing`` is false.
MISSING_CATEGORY = "missing"
ROW_ID = "row_id"


@dataclass(frozen=True)
class DataFile:
    """One raw file: its path, the SHA-256 of its uncompressed bytes, lines to skip at the top."""

    path: Path
    sha256: str | None = None
    skip_rows: int = 0


@dataclass(frozen=True)
class DatasetSpec(ColumnRoles):
    """A tabular dataset as described in the config: the column roles, then where and how its
    files are read. Build it with :meth:`from_config`."""

    name: str
    files: dict[str, DataFile]
    columns: list[str]
    sep: str = ","
    header: bool = False
    missing_values: list[str] = field(default_factory=lambda: ["?"])
    drop_missing: bool = True
    recode: dict[str, dict[str, str]] = field(default_factory=dict)
    derive: dict[str, dict[str, Any]] = field(default_factory=dict)
    test_fraction: float = 0.3
    split_seed: int = 0
    max_rows: dict[str, int | None] = field(default_factory=dict)

    @classmethod
    def from_config(
        cls, name: str, entry: Mapping[str, Any], base_dir: str | Path = "."
    ) -> DatasetSpec:
        """Build a spec from a config entry. Relative file paths are taken from ``base_dir``."""
        try:
            files = {
                role: DataFile(
                    path=resolve_path(item["path"], base_dir),
                    sha256=item.get("sha256"),
                    skip_rows=int(item.get("skip_rows", 0)),
                )
                for role, item in entry["files"].items()
            }
            spec = cls(
                name=name,
                files=files,
                columns=list(entry.get("columns") or []),
                numeric=list(entry.get("numeric") or []),
                categorical=list(entry.get("categorical") or []),
                label=entry["label"]["column"],
                positive=str(entry["label"]["positive"]),
                sensitive=entry["sensitive"]["column"],
                privileged=str(entry["sensitive"]["privileged"]),
                sep=entry.get("sep", ","),
                header=bool(entry.get("header", False)),
                missing_values=[str(v) for v in entry.get("missing_values", ["?"])],
                drop_missing=bool(entry.get("drop_missing", True)),
                recode={
                    col: {str(k): str(v) for k, v in mapping.items()}
                    for col, mapping in (entry.get("recode") or {}).items()
                },
                derive={col: dict(rule) for col, rule in (entry.get("derive") or {}).items()},
                test_fraction=float((entry.get("split") or {}).get("test_fraction", 0.3)),
                split_seed=int((entry.get("split") or {}).get("seed", 0)),
                max_rows=dict(entry.get("max_rows") or {}),
            )
        except KeyError as error:
            raise ConfigError(f"dataset {name!r}: missing key {error.args[0]!r}") from error
        spec.check()
        return spec

    @property
    def schema(self) -> TableSchema:
        """The column roles as a schema (without categories: those come from the data)."""
        return TableSchema(**{f.name: copy(getattr(self, f.name)) for f in fields(ColumnRoles)})

    def check(self) -> None:
        """Raise :class:`ConfigError` naming the first inconsistency in the description."""
        where = f"dataset {self.name!r}"
        roles = set(self.files)
        if roles not in ({"train", "test"}, {"data"}):
            raise ConfigError(
                f"{where}: files must be either 'train' and 'test', or a single 'data' file "
                f"(split by 'split.test_fraction'); got {sorted(roles)}"
            )
        if not self.header and not self.columns:
            raise ConfigError(f"{where}: 'columns' must list the column names when header is false")
        if not 0.0 < self.test_fraction < 1.0:
            raise ConfigError(
                f"{where}: split.test_fraction must be in (0, 1), got {self.test_fraction}"
            )
        both = set(self.numeric) & set(self.categorical)
        if both:
            raise ConfigError(f"{where}: columns {sorted(both)} are both numeric and categorical")
        if self.label in self.numeric or self.label in self.categorical:
            raise ConfigError(
                f"{where}: label column {self.label!r} must not be listed as a feature"
            )
        if self.sensitive not in self.categorical:
            raise ConfigError(
                f"{where}: sensitive column {self.sensitive!r} must be one of the categorical "
                f"columns {self.categorical}"
            )
        for column, rule in self.derive.items():
            if "from" not in rule or "map" not in rule:
                raise ConfigError(f"{where}: derive.{column} needs 'from' and 'map'")
        if self.columns:
            known = set(self.columns) | set(self.derive)
            unknown = [c for c in [*self.numeric, *self.categorical, self.label] if c not in known]
            if unknown:
                raise ConfigError(
                    f"{where}: columns {unknown} are neither in 'columns' nor derived"
                )
            sources = [rule["from"] for rule in self.derive.values()]
            for column in [*self.recode, *sources]:
                if column not in self.columns:
                    raise ConfigError(f"{where}: recode/derive names unknown column {column!r}")
        for split, limit in self.max_rows.items():
            if split not in ("train", "test"):
                raise ConfigError(f"{where}: max_rows keys are 'train' and 'test', got {split!r}")
            if limit is not None and int(limit) < 2:
                raise ConfigError(f"{where}: max_rows.{split} must be at least 2, got {limit}")


def resolve_path(path: str | Path, base_dir: str | Path) -> Path:
    """``path`` as it is when absolute, else taken from ``base_dir`` (the workflow root)."""
    path = Path(path)
    return path if path.is_absolute() else Path(base_dir) / path


def read_raw(spec: DatasetSpec, role: str) -> pd.DataFrame:
    """Read one raw file as strings (missing values as NaN), after checking its SHA-256."""
    data_file = spec.files[role]
    raw = read_verified(data_file.path, data_file.sha256)
    options: dict[str, Any] = dict(
        dtype=str,
        keep_default_na=False,
        na_values=spec.missing_values,
        skipinitialspace=True,
        skip_blank_lines=True,
        skiprows=data_file.skip_rows,
        header=0 if spec.header else None,
    )
    if spec.sep == " ":
        options["sep"] = r"\s+"
    else:
        options["sep"] = spec.sep
    try:
        table = pd.read_csv(io.BytesIO(raw), **options)
    except pd.errors.EmptyDataError as error:
        raise DataError(f"data file {data_file.path} is empty: it holds no rows") from error
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(f"cannot parse {data_file.path}: {error}") from error
    if not spec.header:
        if table.shape[1] != len(spec.columns):
            raise DataError(
                f"{data_file.path} has {table.shape[1]} fields per row but dataset "
                f"{spec.name!r} lists {len(spec.columns)} columns"
            )
        table.columns = spec.columns
    table = table.apply(lambda col: col.str.strip())
    _check_fields(table, raw, spec, data_file)
    table.index = pd.RangeIndex(len(table), name=ROW_ID)
    return table


def _check_fields(table: pd.DataFrame, raw: bytes, spec: DatasetSpec, data_file: DataFile):
    """Raise :class:`DataError` naming the file, the line and the columns of the first row that
    lacks fields (pandas fills them with ``""``, which would pass for a value) or leaves a
    column the dataset uses empty."""
    used = {*spec.schema.columns, *(rule["from"] for rule in spec.derive.values())}
    used = [c for c in table.columns if c in used]
    suspect = (table[table.columns[-1]] == "") | (table[used] == "").any(axis=1)
    if not suspect.any():
        return
    text = raw.decode(errors="replace").splitlines()[data_file.skip_rows :]
    if spec.sep == " ":
        records = [(i, line.split()) for i, line in enumerate(text) if line.strip()]
    else:
        reader = csv.reader(text, delimiter=spec.sep, skipinitialspace=True)
        records = [(reader.line_num - 1, fields) for fields in reader if fields]
    records = records[1:] if spec.header else records
    if len(records) != len(table):  # the parsers disagree (unusual quoting): name the row
        records = [(None, None)] * len(table)
    for position in np.flatnonzero(suspect.to_numpy()):
        line, fields = records[position]
        where = f"{data_file.path}, " + (
            f"line {data_file.skip_rows + line + 1}" if line is not None else f"row {position}"
        )
        if fields is not None and len(fields) < table.shape[1]:
            missing = ", ".join(repr(c) for c in table.columns[len(fields) :])
            raise DataError(
                f"{where}: {len(fields)} fields where {table.shape[1]} are expected; "
                f"{missing} {'is' if table.shape[1] - len(fields) == 1 else 'are'} missing"
            )
        empty = [c for c in used if table[c].iloc[position] == ""]
        if empty:
            raise DataError(
                f'{where}: the {empty[0]!r} field is empty; list "" in the dataset\'s '
                "missing_values if an empty field means a missing value"
            )


def _recode_and_derive(table: pd.DataFrame, spec: DatasetSpec, where: Path) -> pd.DataFrame:
    for column, mapping in spec.recode.items():
        table[column] = table[column].replace(mapping)
    for column, rule in spec.derive.items():
        source = table[rule["from"]]
        mapping = {str(k): str(v) for k, v in rule["map"].items()}
        derived = source.map(mapping)
        unmapped = sorted(set(source[derived.isna() & source.notna()]))
        if unmapped:
            raise DataError(
                f"{where}: values {unmapped} of column {rule['from']!r} have no entry in "
                f"derive.{column}.map"
            )
        table[column] = derived
    missing = [c for c in spec.schema.columns if c not in table.columns]
    if missing:
        raise DataError(f"{where}: columns {missing} not found; it has {list(table.columns)}")
    return table[spec.schema.columns].copy()


def _handle_missing(table: pd.DataFrame, spec: DatasetSpec, where: Path) -> pd.DataFrame:
    missing = table.isna()
    if not missing.to_numpy().any():
        return table
    if spec.drop_missing:
        keep = ~missing.any(axis=1)
        log.info("%s: dropped %d rows with missing values", where, int((~keep).sum()))
        return table[keep].copy()
    bad_numeric = [c for c in [*spec.numeric, spec.label] if missing[c].any()]
    if bad_numeric:
        raise DataError(
            f"{where}: columns {bad_numeric} have missing values, which cannot be kept as a "
            "category; set drop_missing: true"
        )
    for column in spec.categorical:
        table[column] = table[column].fillna(MISSING_CATEGORY)
    return table


def _to_numbers(table: pd.DataFrame, spec: DatasetSpec, where: Path) -> pd.DataFrame:
    for column in spec.numeric:
        values = pd.to_numeric(table[column], errors="coerce")
        bad = values.isna() & table[column].notna()
        if bad.any():
            example = table.loc[bad, column].iloc[0]
            raise DataError(
                f"{where}: numeric column {column!r} holds the non-number {example!r} "
                f"(row_id {table.index[bad][0]})"
            )
        values = values.astype("float64")
        if np.all(np.mod(values.dropna().to_numpy(), 1.0) == 0.0):
            values = values.astype("int64")
        table[column] = values
    return table


def _parse(spec: DatasetSpec, role: str) -> pd.DataFrame:
    where = spec.files[role].path
    table = read_raw(spec, role)
    table = _recode_and_derive(table, spec, where)
    table = _handle_missing(table, spec, where)
    table = _to_numbers(table, spec, where)
    labels = set(table[spec.label].unique())
    if spec.positive not in labels:
        raise DataError(
            f"{where}: label column {spec.label!r} never takes the positive value "
            f"{spec.positive!r}; its values are {sorted(labels)}"
        )
    if len(labels) != 2:
        raise DataError(
            f"{where}: label column {spec.label!r} must take exactly two values, found "
            f"{sorted(labels)}; use 'recode' to merge them"
        )
    return table


def _limit(table: pd.DataFrame, limit: int | None, seed: int) -> pd.DataFrame:
    if limit is None or len(table) <= int(limit):
        return table
    return table.sample(n=int(limit), random_state=seed).sort_index()


def prepare(spec: DatasetSpec) -> tuple[pd.DataFrame, pd.DataFrame, TableSchema]:
    """Parse the dataset into ``(train, test, schema)``.

    Both tables have the columns ``schema.columns``: numeric columns as int64 or float64,
    categorical columns and the label as ``category`` with the same, sorted, category set in
    both tables. Raises :class:`DataError` naming the file and value at fault.
    """
    if "data" in spec.files:
        full = _parse(spec, "data")
        train, test = train_test_split(
            full,
            test_size=spec.test_fraction,
            random_state=spec.split_seed,
            stratify=full[spec.label],
        )
        train, test = train.sort_index(), test.sort_index()
    else:
        train, test = _parse(spec, "train"), _parse(spec, "test")
        if set(train[spec.label].unique()) != set(test[spec.label].unique()):
            raise DataError(
                f"dataset {spec.name!r}: label values differ between train "
                f"{sorted(train[spec.label].unique())} and test "
                f"{sorted(test[spec.label].unique())}; use 'recode' to align them"
            )
    train = _limit(train, spec.max_rows.get("train"), spec.split_seed)
    test = _limit(test, spec.max_rows.get("test"), spec.split_seed)

    categories: dict[str, list[str]] = {}
    for column in [*spec.categorical, spec.label]:
        values = sorted(set(train[column]) | set(test[column]))
        dtype = pd.CategoricalDtype(values)
        train[column] = train[column].astype(dtype)
        test[column] = test[column].astype(dtype)
        categories[column] = values
    for split, table in (("train", train), ("test", test)):
        groups = set(table[spec.sensitive])
        if spec.privileged not in groups or len(groups) < 2:
            raise DataError(
                f"dataset {spec.name!r}: the {split} split must hold both the privileged group "
                f"{spec.privileged!r} of {spec.sensitive!r} and another; it holds {sorted(groups)}"
            )
    schema = TableSchema(**{**spec.schema.to_dict(), "categories": categories})
    return train, test, schema


def summarize(table: pd.DataFrame, schema: TableSchema) -> dict[str, Any]:
    """Row count, positive-label share and privileged-group share of a prepared table."""
    y, s = schema.labels(table), schema.groups(table)
    return {
        "rows": int(len(table)),
        "positive_share": float(y.mean()),
        "privileged_share": float(s.mean()),
        "positive_share_privileged": float(y[s == 1].mean()),
        "positive_share_unprivileged": float(y[s == 0].mean()),
    }
