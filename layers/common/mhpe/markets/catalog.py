"""The markets that `mhpe replay` and the drift benchmarks can load by name."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from mhpe.schema import SALE_COLUMNS

AMES = "ames"
SARATOGA = "saratoga"


def _ames_sales() -> pd.DataFrame:
    from mhpe.data import load_ames

    return load_ames()[list(SALE_COLUMNS)]


def _saratoga_sales() -> pd.DataFrame:
    from mhpe.markets.saratoga import load_saratoga

    return load_saratoga().sales


MARKETS: dict[str, Callable[[], pd.DataFrame]] = {AMES: _ames_sales, SARATOGA: _saratoga_sales}


def load_market(name: str) -> pd.DataFrame:
    """Return a market's real sales with the columns of `mhpe.schema.Sale`, in source order.

    Raises ValueError naming the known markets when `name` is not one of them.
    """
    try:
        loader = MARKETS[name]
    except KeyError:
        raise ValueError(f"unknown market {name!r}; expected one of {sorted(MARKETS)}") from None
    return loader()
