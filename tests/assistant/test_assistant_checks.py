"""The checks that keep a model's text honest: offer terms in messages, summary figures in
explanations, and the rules TOML that must read back to the same rules."""

from __future__ import annotations

import json
import tomllib

import pytest
from assistant_testdata import SUMMARY

from offerwise.assistant.brief import BriefContext, parse_draft, rules_to_toml
from offerwise.assistant.explain import PlanFacts, check_explanation, template_explanation
from offerwise.assistant.terms import OfferTerms, check_message, numbers_in, template_message
from offerwise.policy.rules import load_rules, parse_rules
from offerwise.vocab import OFFER_KINDS, SEGMENTS

CATS = ("fresh", "pantry", "drinks", "household", "personal_care", "frozen")
PCT20 = OfferTerms("pct20", "percent_off", 0.20)
AMT5 = OfferTerms("amt5", "amount_off", 5.0, min_spend=20.0)
FRESH = OfferTerms("fresh20", "percent_off", 0.20, category="fresh")


def test_numbers_in_reads_digits_separators_decimals_and_percent_signs() -> None:
    got = [(n.value, n.percent) for n in numbers_in("Save 1,250.50 or 20 % on pct30, 5 percent")]
    assert got == [(1250.5, False), (20.0, True), (30.0, False), (5.0, True)]


@pytest.mark.parametrize("kind", OFFER_KINDS)
@pytest.mark.parametrize("segment", [*SEGMENTS, "vip"])
def test_every_template_passes_its_own_check(kind: str, segment: str) -> None:
    for t in (
        OfferTerms("o", kind, 0.15 if kind == "percent_off" else 7.5),
        OfferTerms("o", kind, 0.3 if kind == "percent_off" else 3.0, 25.0, "frozen", True),
    ):
        msg = template_message(t, segment)
        assert check_message(msg, t, CATS).ok, (msg, check_message(msg, t, CATS).problems)


@pytest.mark.parametrize(
    ("text", "terms", "problem"),
    [
        ("25% off your next order!", PCT20, "percent '25%'"),
        ("20 off your next order!", PCT20, "term 20% is not stated"),
        ("20% off, this week only until 2026!", PCT20, "number '2026'"),
        ("Twenty percent off!", PCT20, "number in words"),
        ("5% off orders of 20 or more", AMT5, "percent '5%'"),
        ("5 off your next order", AMT5, "term 20 is not stated"),
        ("6 off orders of 20 or more", AMT5, "number '6'"),
        ("20% off your next order", FRESH, "category 'fresh' is not named"),
        ("20% off fresh and frozen food", FRESH, "category 'frozen'"),
        ("20% off drinks", PCT20, "category 'drinks'"),
        ("", PCT20, "empty"),
    ],
)
def test_wrong_messages_fail(text: str, terms: OfferTerms, problem: str) -> None:
    check = check_message(text, terms, CATS)
    assert not check.ok
    assert any(problem in p for p in check.problems), check.problems


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("We miss you! Take 20% off your next order.", PCT20),
        ("Get 5 off when you spend 20 or more.", AMT5),
        ("Fresh deal: 20% off fresh food.", FRESH),
    ],
)
def test_right_messages_pass(text: str, terms: OfferTerms) -> None:
    assert check_message(text, terms, CATS).ok


def test_template_explanation_passes_and_wrong_figures_fail() -> None:
    facts = PlanFacts.model_validate(SUMMARY)
    text = template_explanation(facts)
    assert check_explanation(text, facts) == []
    assert "UNVERIFIED" in text
    assert any("'1,300'" in p for p in check_explanation(text + " It costs 1,300.", facts))
    no_label = text.replace("UNVERIFIED", "Note")
    assert any("UNVERIFIED" in p for p in check_explanation(no_label, facts))
    # a share may be written as a percent, a figure rounded to whole units
    assert check_explanation("UNVERIFIED. 10% held out; cost 1,235; 1,234.5 exactly.", facts) == []
    # a summary that counts the customers offered says how many (none, here), not "may get"
    offered = PlanFacts.model_validate({**SUMMARY, "n_offered": 0})
    text = template_explanation(offered)
    assert "36 are in the treatment group (0 of them get an offer)" in text
    assert "may get an offer" not in text and check_explanation(text, offered) == []
    # a plan that explores: what its exploration can show, with figures the check accepts
    note = ("about 7 customers drawn at random: about 1 per offer (1 on none); a difference from "
            "none is detectable from 41.20 net profit per customer")
    exploring = PlanFacts.model_validate({**SUMMARY, "explore": 0.2, "n_explore": 7,
                                          "claims": {**SUMMARY["claims"], "explore_note": note}})
    text = template_explanation(exploring)
    assert f"What that exploration can show: {note}." in text
    assert check_explanation(text, exploring) == []
    assert "exploration can show" not in template_explanation(
        PlanFacts.model_validate({**SUMMARY, "claims": {**SUMMARY["claims"], "explore_note": note}}))


def test_a_first_campaign_is_explained_without_a_model() -> None:
    note = ("about 295 customers drawn at random: about 37 per offer (37 on none); a difference "
            "from none is detectable from 4.50 net profit per customer")
    facts = PlanFacts.model_validate(
        {**{k: v for k, v in SUMMARY.items() if k != "claims"}, "explore": 0.1083,
         "n_explore": 7, "first_campaign": {"explore_share": 0.1083, "explore_note": note}})
    text = template_explanation(facts)
    assert "There is no model yet: this is a first campaign of random offers, drawn for 7 customers" in text
    assert "the incremental profit is unknown until the campaign is measured" in text
    assert "the model expects" not in text and f"What these customers can show: {note}." in text
    assert check_explanation(text, facts) == []
    # an assumed redemption rate: the cost is the expected one at that rate, beside the cost if
    # all redeem, and every figure is still the summary's
    rated = facts.model_copy(update={"first_campaign": facts.first_campaign.model_copy(
        update={"redemption_rate": 0.4, "cost_if_all_redeem": 2.5 * facts.expected_cost})})
    text = template_explanation(rated)
    assert (f"if 40% of offered customers redeem once, as assumed, the discounts are expected "
            f"to cost {facts.expected_cost:,.2f} ({2.5 * facts.expected_cost:,.2f} if all "
            "redeem; the service refuses redemptions past the budget)") in text
    assert check_explanation(text, rated) == []


def test_rules_toml_round_trips_the_examples() -> None:
    for name in ("rules-simulated.toml", "rules-completejourney.toml"):
        rules = load_rules(f"examples/{name}")
        assert parse_rules(tomllib.loads(rules_to_toml(rules))) == rules


def test_drafts_are_checked_by_the_rules_schema_and_the_shops_names() -> None:
    ctx = BriefContext(offers=(PCT20, AMT5), customer_columns=("age",))

    def draft(rules: object) -> list[str]:
        return parse_draft(json.dumps({"rules": rules, "not_expressible": []}), ctx, "t").problems

    assert draft({"segments": {"dormant": {"max_percent_off": 0.15}}}) == []
    assert "segments.dormant.max_percent_off" in draft({"segments": {"dormant": {"max_percent_off": 15}}})[0]
    assert "unknown" in draft({"segments": {"lapsed": {"max_share": 0.5}}})[0]
    assert "no such offer" in draft({"offers": {"pct99": {"max_count": 3}}})[0]
    assert "no customer column" in draft({"fairness": [{"attribute": "income"}]})[0]
    assert "roi.min" in draft({"roi": {}})[0]
    assert "budget: unknown key (allowed here: offers, segments" in draft({"budget": 5000})[0]
    bad = parse_draft("Sure! Here are your rules: roi 1.5", ctx, "t")
    assert bad.rules is None and "not JSON" in bad.problems[0]
    fenced = parse_draft('```json\n{"rules": {"roi": {"min": 1.5}}, "not_expressible": ["budget"]}\n```', ctx, "t")
    assert fenced.ok and fenced.toml == "[roi]\nmin = 1.5\n" and fenced.not_expressible == ["budget"]
