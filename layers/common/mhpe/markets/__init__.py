"""Real housing markets as the model's sale rows: Ames (the training market) and Saratoga.

`load_market(name)` returns a market's sales with the columns of `mhpe.schema.Sale`, so its
houses can be sent to the pricing API or compared with the training data.
"""

from mhpe.markets.catalog import MARKETS, load_market
from mhpe.markets.saratoga import SaratogaMapping, load_saratoga, map_saratoga

__all__ = ["MARKETS", "SaratogaMapping", "load_market", "load_saratoga", "map_saratoga"]
