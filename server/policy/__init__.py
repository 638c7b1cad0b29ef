"""Charters as code: load and validate charter files, and decide with them. Pure: no I/O at import."""

from __future__ import annotations

from server.policy.decisions import Decision, Label, localize
from server.policy.detectors import DETECTORS, Detector, DetectorMatch
from server.policy.engine import (
    admin_may_read_private,
    analytics_allowed,
    evaluate_display,
    evaluate_egress,
    evaluate_ingress,
    evaluate_membership,
    evaluate_publish,
    is_purgeable,
    requires_reacceptance,
    retention_deadline,
)
from server.policy.facts import (
    AnalyticsFacts,
    Attachment,
    ContentFacts,
    DisplayFacts,
    EgressFacts,
    IngressFacts,
    LegalHold,
    MembershipFacts,
    StoredItem,
)
from server.policy.loader import CharterError, charter_files, check_files, load_charter, parse_duration
from server.policy.schema import Article, Charter, Rule
from server.policy.simulate import SimulationReport, diff_charters, simulate
from server.policy.units import POINT_IN_TIME_HINT, point_in_time

__all__ = [
    "DETECTORS",
    "POINT_IN_TIME_HINT",
    "AnalyticsFacts",
    "Article",
    "Attachment",
    "Charter",
    "CharterError",
    "ContentFacts",
    "Decision",
    "Detector",
    "DetectorMatch",
    "DisplayFacts",
    "EgressFacts",
    "IngressFacts",
    "Label",
    "LegalHold",
    "MembershipFacts",
    "Rule",
    "SimulationReport",
    "StoredItem",
    "admin_may_read_private",
    "analytics_allowed",
    "charter_files",
    "check_files",
    "diff_charters",
    "evaluate_display",
    "evaluate_egress",
    "evaluate_ingress",
    "evaluate_membership",
    "evaluate_publish",
    "is_purgeable",
    "load_charter",
    "localize",
    "parse_duration",
    "point_in_time",
    "requires_reacceptance",
    "retention_deadline",
    "simulate",
]
