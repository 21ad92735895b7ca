"""A market simulator with known ground truth, for benchmarks and tests.

:func:`simulate` draws customers with latent traits, a purchase history consistent with them, an
offer menu, logged exposures (offer chosen by a ``random``, biased ``legacy`` or ``confounded``
policy — legacy plus a hidden in-market state that also raises purchases —, with the exact
propensity unless ``record_propensity=False``, and outcomes drawn from the true response model) and
the *truth*: for every
customer × offer (``none`` included) the expected conversion, revenue, discount cost and profit.
:func:`write_market` writes it all as a contract data directory plus ``truth.parquet``,
``latent.parquet`` and ``simulator.json``. The model is documented in ``docs/simulator.md``.

Modules, by job: :mod:`~offerwise.simulator.config` (settings, offer menu),
:mod:`~offerwise.simulator.population` (traits, customers, products, history),
:mod:`~offerwise.simulator.response` (the true response model),
:mod:`~offerwise.simulator.exposures` (logging policies, logged exposures),
:mod:`~offerwise.simulator.confounding` (the hidden in-market state of ``confounded`` logging),
:mod:`~offerwise.simulator.truth` (policy values, the oracle),
:mod:`~offerwise.simulator.market` (:func:`simulate`, :func:`write_market`) and
:mod:`~offerwise.simulator.campaign` (running a plan).
"""

from offerwise.simulator.campaign import (
    CAMPAIGN_METRICS,
    CampaignRun,
    default_campaign_start,
    run_campaign,
    write_campaign_data,
)
from offerwise.simulator.config import (
    CATEGORIES,
    DEFAULT_OFFERS,
    PROFILE_COLUMNS,
    OfferSpec,
    SimulatorConfig,
    offers_from_frame,
)
from offerwise.simulator.exposures import legacy_logits, logging_probabilities
from offerwise.simulator.market import (
    META_FILE,
    SHOP_OUTPUT,
    SimulatedMarket,
    instantiated_truth,
    market_summary,
    simulate,
    write_market,
)
from offerwise.simulator.truth import (
    oracle_policy,
    oracle_value,
    true_policy_value,
    true_policy_value_per_exposure,
)
from offerwise.vocab import NO_OFFER

__all__ = [
    "META_FILE",
    "SHOP_OUTPUT",
    "CAMPAIGN_METRICS",
    "CATEGORIES",
    "DEFAULT_OFFERS",
    "NO_OFFER",
    "PROFILE_COLUMNS",
    "CampaignRun",
    "OfferSpec",
    "SimulatedMarket",
    "SimulatorConfig",
    "default_campaign_start",
    "instantiated_truth",
    "legacy_logits",
    "logging_probabilities",
    "market_summary",
    "offers_from_frame",
    "oracle_policy",
    "oracle_value",
    "run_campaign",
    "simulate",
    "true_policy_value",
    "true_policy_value_per_exposure",
    "write_campaign_data",
    "write_market",
]
