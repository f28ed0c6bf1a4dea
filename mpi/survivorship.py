"""Golden record fields from the member records, each with the record it came from.

A golden record is what a clinician sees for a person, so every field says which source record
supplied it. Which value wins is a per-field rule:

- ``most_recent``: the newest non-empty value (people move, change names, get new phones);
- ``most_frequent``: the value most members agree on, compared normalised (a typo in one system
  loses to three systems that agree); ties go to the newest;
- ``trusted_source``: the first source in ``source_rank`` that has a value (e.g. the registration
  system over the lab), then the newest;
- ``most_complete``: from the member with the most filled-in fields (one careful registration
  over several partial ones), then the newest.

The result depends only on the members, never on the order they were linked in, so merging and
unmerging give back exactly the golden record there was.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

RULES = ("most_recent", "most_frequent", "trusted_source", "most_complete")
# golden field -> (normalised column shown, normalised column compared): display values are
# normalised where the raw form is a format (dates, sex codes, identifiers), raw otherwise.
FIELDS: dict[str, tuple[str | None, str]] = {
    "first_name": (None, "first"), "middle_name": (None, "middle"), "last_name": (None, "last"),
    "suffix": ("suffix", "suffix"), "dob": ("dob", "dob"), "sex": ("sex", "sex"), "ssn": ("ssn", "ssn"),
    "phone": ("phone", "phone"), "email": ("email", "email"), "street": (None, "street"),
    "city": (None, "city"), "state": ("state", "state"), "zip": ("zip", "zip"),
}


@dataclass(frozen=True)
class Member:
    """One member record as survivorship sees it. ``sequence`` orders members by recency
    (larger = newer: the store passes its version row id)."""

    source: str
    record_id: str
    raw: Mapping[str, str]
    normalised: Mapping[str, object]
    sequence: int


@dataclass(frozen=True)
class SurvivorshipPolicy:
    """``default`` rule, per-field overrides in ``fields``, and ``source_rank`` for trusted_source."""

    default: str = "most_recent"
    fields: Mapping[str, str] = field(default_factory=dict)
    source_rank: Sequence[str] = ()

    def __post_init__(self) -> None:
        for name, rule in [("default", self.default), *self.fields.items()]:
            if rule not in RULES:
                raise ValueError(f"survivorship rule for {name!r} must be one of {', '.join(RULES)}")
        unknown = set(self.fields) - set(FIELDS)
        if unknown:
            raise ValueError(f"no golden field named {sorted(unknown)[0]!r}; fields are {', '.join(FIELDS)}")

    def rule_for(self, name: str) -> str:
        return self.fields.get(name, self.default)


def _display(member: Member, name: str) -> str:
    shown, compared = FIELDS[name]
    if not str(member.normalised.get(compared, "") or ""):
        return ""  # a placeholder or junk value normalised to missing is not a value
    if shown is None:
        return " ".join(str(member.raw.get(name, "") or "").split())
    return str(member.normalised.get(shown, "") or "")


def golden_attributes(members: Sequence[Member], policy: SurvivorshipPolicy = SurvivorshipPolicy()) -> dict:
    """``{field: {"value": ..., "source": ..., "record_id": ..., "rule": ...}}`` for every field
    some member has."""
    newest_first = sorted(members, key=lambda m: -m.sequence)
    shown = {id(m): {name: _display(m, name) for name in FIELDS} for m in members}  # each value once
    filled = {key: sum(map(bool, values.values())) for key, values in shown.items()}
    out: dict[str, dict] = {}
    for name in FIELDS:
        having = [m for m in newest_first if shown[id(m)][name]]
        if not having:
            continue
        rule = policy.rule_for(name)
        if rule == "most_frequent":
            compared = FIELDS[name][1]
            counts = Counter(str(m.normalised.get(compared)) for m in having)
            top = max(counts.values())
            winner = next(m for m in having if counts[str(m.normalised.get(compared))] == top)
        elif rule == "trusted_source":
            rank = {s: i for i, s in enumerate(policy.source_rank)}
            winner = min(having, key=lambda m: (rank.get(m.source, len(rank)), -m.sequence))
        elif rule == "most_complete":
            winner = min(having, key=lambda m: (-filled[id(m)], -m.sequence))
        else:
            winner = having[0]
        out[name] = {"value": shown[id(winner)][name], "source": winner.source, "record_id": winner.record_id,
                     "rule": rule}
    return out
