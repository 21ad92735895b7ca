"""The language-model assistant: rules drafted from a brief, offer messages and plan explanations.

Every text a model writes is checked before it is used: drafted rules by the rules schema
(:mod:`offerwise.policy.rules`) and the shop's names, messages by the offer's terms, explanations
by the plan's summary. The ``template`` backend (no model) is the default; the optional
``offerwise[llm]`` extra brings a local model. See docs/assistant.md.
"""

from offerwise.assistant.backends import (
    Backend,
    BackendError,
    LocalBackend,
    Message,
    OpenAIBackend,
    TemplateBackend,
    make_backend,
)
from offerwise.assistant.brief import BriefContext, RulesDraft, draft_rules, rules_to_toml
from offerwise.assistant.copywriter import CopyMessage, CopyRequest, write_messages
from offerwise.assistant.explain import Explanation, PlanFacts, explain_plan
from offerwise.assistant.terms import OfferTerms, check_message, template_message

__all__ = [
    "Backend",
    "BackendError",
    "BriefContext",
    "CopyMessage",
    "CopyRequest",
    "Explanation",
    "LocalBackend",
    "Message",
    "OfferTerms",
    "OpenAIBackend",
    "PlanFacts",
    "RulesDraft",
    "TemplateBackend",
    "check_message",
    "draft_rules",
    "explain_plan",
    "make_backend",
    "rules_to_toml",
    "template_message",
    "write_messages",
]
