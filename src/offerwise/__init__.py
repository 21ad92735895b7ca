"""offerwise: decide which discount to offer each customer, or none, to maximise incremental
profit."""

from offerwise._version import __version__

__all__ = ["__version__"]
