from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from server.policy import Charter, load_charter

REPO = Path(__file__).resolve().parents[2]
CHARTER_DIR = REPO / "charter"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(dedent(text), encoding="utf-8")
    return path


BASE = """
id = "base"
version = "1.0"
languages = ["en", "fr"]

[[article]]
id = "1"
title = { en = "Base", fr = "Socle" }
text = { en = "Base text", fr = "Texte du socle" }

[[article]]
id = "2"
title = { en = "Kept", fr = "Gardé" }
text = { en = "Kept", fr = "Gardé" }
  [[article.rule]]
  at = "publish"
  match = { keywords = ["secret"] }
  action = "hold"

[retention]
article = "1"
posts = "5y"
comments = "1y"

[analytics]
article = "1"
min_group_size = 5
per_person_figures = true

[region_members]
EU = ["FR", "DE", "IT"]
"""

# One charter that uses every action at every point, for the engine tests.
ENGINE = """
id = "t"
extends = "base"
jurisdiction = "FR"
regions = ["EU"]
version = "2.3"
languages = ["en", "fr"]

[[article]]
id = "1"
title = { en = "Identifiers", fr = "Identifiants" }
text = { en = "No identifiers.", fr = "Pas d'identifiants." }
  [[article.rule]]
  at = "publish"
  match = { detector = ["iban", "fr.nir"] }
  action = "reject"
  message = { en = "No IBAN.", fr = "Pas d'IBAN." }
  [[article.rule]]
  at = "ingress"
  match = { detector = ["payment_card"] }
  action = "reject"

[[article]]
id = "3"
title = { en = "Review", fr = "Revue" }
text = { en = "Held.", fr = "Retenu." }
  [[article.rule]]
  at = "ingress"
  match = { hashtags = ["leak"] }
  action = "hold"
  [[article.rule]]
  at = "publish"
  match = { attachment_types = ["video/*"], attachment_larger_than = "25MB" }
  action = "hold"

[[article]]
id = "4"
title = { en = "Labels", fr = "Étiquettes" }
text = { en = "Labelled.", fr = "Étiqueté." }
  [[article.rule]]
  at = "publish"
  match = { community_tags = ["partners"] }
  action = "label"
  label = { en = "Visible to partners", fr = "Visible des partenaires" }
  [[article.rule]]
  at = "publish"
  match = { hashtags = ["rumour"] }
  action = "label"
  label = { en = "Unverified", fr = "Non vérifié" }
  [[article.rule]]
  at = "ingress"
  match = { origin_not_in = ["EU"] }
  action = "label"
  label = { en = "From abroad", fr = "De l'étranger" }
  [[article.rule]]
  at = "display"
  match = { origin_not_in = ["EU"] }
  action = "label"
  label = { en = "Published outside the EU", fr = "Publié hors de l'UE" }
  [[article.rule]]
  at = "publish"
  match = { community_kinds = ["open"], author_in = ["FR"] }
  action = "allow"

[[article]]
id = "5"
title = { en = "Transfers", fr = "Transferts" }
text = { en = "Transfers.", fr = "Transferts." }
  [[article.rule]]
  at = "egress"
  match = { community_tags = ["export-controlled"], destination_not_in = ["US"] }
  action = "deny"
  [[article.rule]]
  at = "egress"
  match = { destination_in = ["CN"] }
  action = "require_consent"
  [[article.rule]]
  at = "egress"
  action = "redact"
  fields = ["exif"]
  [[article.rule]]
  at = "egress"
  match = { destination_in = ["SG"] }
  action = "allow"
  [[article.rule]]
  at = "egress"
  match = { destination_in = ["RU"], content_kinds = ["profile"] }
  action = "reference_only"

[[article]]
id = "6"
title = { en = "Membership", fr = "Adhésion" }
text = { en = "Members.", fr = "Membres." }
  [[article.rule]]
  at = "membership"
  match = { community_tags = ["export-controlled"], person_not_in = ["US"] }
  action = "deny"
  [[article.rule]]
  at = "membership"
  match = { community_kinds = ["open"] }
  action = "allow"

[[article]]
id = "7"
title = { en = "Retention", fr = "Conservation" }
text = { en = "Kept.", fr = "Conservé." }
  [[article.rule]]
  at = "retention"
  match = { community_tags = ["finance"] }
  action = "hold"
  keep = "10y"
  [[article.rule]]
  at = "retention"
  match = { community_tags = ["archive"] }
  action = "hold"

[[article]]
id = "8"
title = { en = "Figures", fr = "Chiffres" }
text = { en = "Figures.", fr = "Chiffres." }
  [[article.rule]]
  at = "analytics"
  match = { community_tags = ["health"] }
  action = "deny"
  [[article.rule]]
  at = "analytics"
  match = { community_kinds = ["open"] }
  action = "allow"

[[article]]
id = "9"
title = { en = "Admins", fr = "Administrateurs" }
text = { en = "Admins.", fr = "Administrateurs." }
  [[article.rule]]
  at = "administration"
  match = { community_kinds = ["it-support"] }
  action = "allow"
  [[article.rule]]
  at = "administration"
  match = { community_tags = ["works-council"] }
  action = "deny"

[egress]
article = "5"
allow_jurisdictions = ["EU", "JP-adequate", "CN", "RU", "US"]
redact_profile_fields = ["phone", "birthday"]
redact_media = ["location"]
require_consent = false
reference_only_kinds = ["membership"]

[analytics]
article = "8"
per_person_figures = false

[administration]
article = "9"
admins_may_read_private = false

[region_members]
JP-adequate = ["JP"]
"""


@pytest.fixture
def charter_dir(tmp_path: Path) -> Path:
    write(tmp_path, "base.toml", BASE)
    write(tmp_path, "t.toml", ENGINE)
    return tmp_path


@pytest.fixture
def charter(charter_dir: Path) -> Charter:
    return load_charter(charter_dir, "t")
