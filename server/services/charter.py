"""The charter in the services: one import for what the rest of Cercle calls.

The work is done in `server.services.compliance`: `decisions` (each enforcement point, the audit
record, refusals), `acceptance` (acceptance of the charter, cross-border consents), `holds` (legal holds)
and `replay` (stored content through a charter, for `cercle charter simulate`). Retention is
`server.services.retention`.
"""

from __future__ import annotations

from server.policy import localize
from server.services.compliance.acceptance import (
    CHARTER_PAGE,
    CharterNotAccepted,
    accept_charter,
    acceptance_figures,
    acceptance_status,
    consented_jurisdictions,
    give_consent,
    list_consents,
    not_accepted_message,
    require_acceptance,
    withdraw_consent,
)
from server.services.compliance.decisions import (
    CharterRefusal,
    CommunityFacts,
    audit_admin_read,
    audit_entry,
    charter_language,
    check_analytics,
    check_membership,
    check_publish,
    display_labels,
    explain,
    raise_if_refused,
    record_decision,
)
from server.services.compliance.holds import hold_facts, place_hold, release_hold, targets_by_name
from server.services.compliance.replay import content_of, simulate_stored

__all__ = [
    "CHARTER_PAGE",
    "CharterNotAccepted",
    "CharterRefusal",
    "CommunityFacts",
    "accept_charter",
    "acceptance_figures",
    "acceptance_status",
    "audit_admin_read",
    "audit_entry",
    "charter_language",
    "check_analytics",
    "check_membership",
    "check_publish",
    "consented_jurisdictions",
    "content_of",
    "display_labels",
    "explain",
    "give_consent",
    "hold_facts",
    "list_consents",
    "localize",
    "not_accepted_message",
    "place_hold",
    "raise_if_refused",
    "record_decision",
    "release_hold",
    "require_acceptance",
    "simulate_stored",
    "targets_by_name",
    "withdraw_consent",
]
