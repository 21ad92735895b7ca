"""Data: the contract, readers, the Complete Journey adapter and the market simulator."""

from offerwise.data.contract import NO_OFFER, OFFER_KINDS, TABLES, DataSet, load_data

__all__ = ["NO_OFFER", "OFFER_KINDS", "TABLES", "DataSet", "load_data"]
