"""FHIR R4 <-> our canonical record: Patient resources in, golden Patients and searchset Bundles out.

Only the mapping lives here (no matching): a FHIR Patient becomes the flat record the engine
normalises (so the same normalisers see FHIR and CSV input), and a golden record becomes a
Patient. Errors name the FHIR element (``Patient.name[0].given``), never its value.

Identifiers: each source record is an identifier whose ``system`` is the source's name and whose
``value`` is its record id; the golden record's own id has system :data:`GOLDEN_SYSTEM`. SSNs use
the US SSN system. A merged-away golden record is answered as an inactive Patient whose ``link``
is ``replaced-by`` the survivor, the FHIR way of saying "use that one".
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .errors import InputError

SSN_SYSTEM = "http://hl7.org/fhir/sid/us-ssn"
GOLDEN_SYSTEM = "urn:mpi:golden"
MATCH_GRADE_URL = "http://hl7.org/fhir/StructureDefinition/match-grade"
_GENDER_OUT = {"M": "male", "F": "female", "O": "other"}
_MAX_TEXT = 200  # longer FHIR strings than this are no demographic value we could use


def _need(value: object, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        label = {"str": "a string", "list": "an array", "dict": "an object", "bool": "a boolean",
                 "int": "an integer"}.get(names, names)
        raise InputError(f"must be {label}", column=where)
    return value


def _text(value: object, where: str) -> str:
    value = _need(value, str, where)
    if len(value) > _MAX_TEXT:
        raise InputError(f"is longer than {_MAX_TEXT} characters", column=where)
    return value


def _pick(items: Sequence[Mapping], use_order: Sequence[str]) -> int | None:
    """Index of the element to read: the first whose ``use`` comes earliest in ``use_order``."""
    if not items:
        return None
    rank = {u: i for i, u in enumerate(use_order)}
    return min(range(len(items)), key=lambda i: (rank.get(items[i].get("use", ""), len(rank)), i))


def _element(value: object, where: str, texts: Sequence[str] = (), codes: Sequence[str] = ("use",),
             lists: Sequence[str] = ()) -> dict:
    """An object element whose listed children, when present, are checked: short strings
    (``texts``), strings of any length (``codes``) and arrays of short strings (``lists``). Every
    element the mapping knows is checked, read or not, so what is accepted is what PATIENT_SCHEMA says."""
    item = _need(value, dict, where)
    for key in texts:
        if key in item:
            _text(item[key], f"{where}.{key}")
    for key in codes:
        if key in item:
            _need(item[key], str, f"{where}.{key}")
    for key in lists:
        if key in item:
            for j, x in enumerate(_need(item[key], list, f"{where}.{key}")):
                _text(x, f"{where}.{key}[{j}]")
    return item


def patient_to_record(resource: object, record_id: str = "query", source: str = "") -> dict[str, str]:
    """The canonical record a FHIR R4 Patient describes. Raises InputError naming the element."""
    p = _need(resource, dict, "Patient")
    if p.get("resourceType") != "Patient":
        raise InputError("resource must be a Patient (resourceType 'Patient')", column="resource.resourceType")
    out: dict[str, str] = {"record_id": record_id, "source": source}

    names = [_element(n, f"Patient.name[{i}]", texts=("text", "family"), lists=("given", "suffix"))
             for i, n in enumerate(_need(p.get("name", []), list, "Patient.name"))]
    chosen = _pick([n for n in names if n.get("use") not in ("old", "anonymous")] or names,
                   ("official", "usual", "", "maiden", "nickname"))
    if chosen is not None:
        pool = [n for n in names if n.get("use") not in ("old", "anonymous")] or names
        name = pool[chosen]
        given = list(name.get("given", []))
        if "family" in name:
            out["last_name"] = name["family"]
        if given:
            out["first_name"] = given[0]
            out["middle_name"] = " ".join(given[1:])
        out["suffix"] = " ".join(name.get("suffix", []))
        if not given and "family" not in name and "text" in name:
            parts = name["text"].split()
            if parts:
                out["first_name"], out["last_name"] = parts[0], parts[-1] if len(parts) > 1 else ""
                out["middle_name"] = " ".join(parts[1:-1])
    if "birthDate" in p:
        out["dob"] = _text(p["birthDate"], "Patient.birthDate")
    if "gender" in p:
        out["sex"] = _text(p["gender"], "Patient.gender")

    for i, ident in enumerate(_need(p.get("identifier", []), list, "Patient.identifier")):
        ident = _element(ident, f"Patient.identifier[{i}]", texts=("value",), codes=("use", "system"))
        if ident.get("system") == SSN_SYSTEM and "value" in ident:
            out["ssn"] = ident["value"]

    telecom = [_element(t, f"Patient.telecom[{i}]", texts=("value",), codes=("use", "system"))
               for i, t in enumerate(_need(p.get("telecom", []), list, "Patient.telecom"))]
    for kind in ("phone", "email"):
        entries = [t for t in telecom if t.get("system") == kind and "value" in t]
        best = _pick(entries, ("mobile", "home", "work", ""))
        if best is not None:
            out[kind] = entries[best]["value"]

    addresses = [_element(a, f"Patient.address[{i}]", texts=("city", "state", "postalCode"), lists=("line",))
                 for i, a in enumerate(_need(p.get("address", []), list, "Patient.address"))]
    current = [a for a in addresses if a.get("use") != "old"] or addresses
    best = _pick(current, ("home", "", "temp", "work", "billing"))
    if best is not None:
        a = current[best]
        out["street"] = " ".join(a.get("line", []))
        for ours, theirs in (("city", "city"), ("state", "state"), ("zip", "postalCode")):
            if theirs in a:
                out[ours] = a[theirs]
    return out


def _strings(max_length: int | None = _MAX_TEXT) -> dict:
    return {"type": "string", "maxLength": max_length} if max_length else {"type": "string"}


def _object(**properties: dict) -> dict:
    return {"type": "object", "properties": properties, "additionalProperties": True}


# The Patient as :func:`patient_to_record` reads it, for API documents: the elements it checks, with
# their types and lengths; any other FHIR element is allowed and ignored.
PATIENT_SCHEMA: dict = {
    **_object(
        resourceType={"type": "string", "enum": ["Patient"]},
        name={"type": "array", "items": _object(use=_strings(None), text=_strings(), family=_strings(),
                                                given={"type": "array", "items": _strings()},
                                                suffix={"type": "array", "items": _strings()})},
        birthDate=_strings(), gender=_strings(),
        identifier={"type": "array", "items": _object(use=_strings(None), system=_strings(None), value=_strings())},
        telecom={"type": "array", "items": _object(use=_strings(None), system=_strings(None), value=_strings())},
        address={"type": "array", "items": _object(use=_strings(None), line={"type": "array", "items": _strings()},
                                                   city=_strings(), state=_strings(), postalCode=_strings())}),
    "required": ["resourceType"],
}


# What split_token accepts, as a regular expression for API documents (no control characters)
TOKEN_PATTERN = r"^(?:[^|\\\x00-\x1f\x7f]|\\[^\x00-\x1f\x7f])+\|[^\x00-\x1f\x7f]+$"


def split_token(token: str, where: str) -> tuple[str, str]:
    """``system|value`` of a FHIR token search parameter (``\\|`` escapes a bar)."""
    i = 0
    while i < len(token):
        if token[i] == "\\":
            i += 2
            continue
        if token[i] == "|":
            system, value = token[:i], token[i + 1:]
            break
        i += 1
    else:
        raise InputError("must be system|value", column=where)

    def unescape(s: str) -> str:
        return s.replace("\\|", "|").replace("\\,", ",").replace("\\$", "$").replace("\\\\", "\\")

    system, value = unescape(system), unescape(value)
    if not system or not value:
        raise InputError("must name both a system and a value (system|value)", column=where)
    return system, value


def _golden_identifier(golden_id: str) -> dict:
    return {"use": "official", "system": GOLDEN_SYSTEM, "value": golden_id}


def golden_patient(golden_id: str, status: str, members: Sequence[Mapping] = (), attributes: Mapping | None = None,
                   replaced_by: str | None = None) -> dict:
    """The golden record as a FHIR Patient. ``attributes`` (survivorship values) are included only
    when given, so an integration client's resource carries ids and links but no demographics."""
    patient: dict[str, Any] = {"resourceType": "Patient", "id": golden_id, "active": status == "active",
                               "identifier": [_golden_identifier(golden_id)] + [
                                   {"use": "secondary", "system": m["source"], "value": m["record_id"]}
                                   for m in members]}
    if replaced_by is not None:
        patient["link"] = [{"other": {"reference": f"Patient/{replaced_by}"}, "type": "replaced-by"}]
    if attributes:
        value = {k: v["value"] for k, v in attributes.items() if v.get("value")}
        name: dict[str, Any] = {"use": "official"}
        if "last_name" in value:
            name["family"] = value["last_name"]
        given = [value[k] for k in ("first_name", "middle_name") if k in value]
        if given:
            name["given"] = given
        if "suffix" in value:
            name["suffix"] = [value["suffix"]]
        if len(name) > 1:
            patient["name"] = [name]
        if "dob" in value:
            patient["birthDate"] = value["dob"]
        if "sex" in value:
            patient["gender"] = _GENDER_OUT.get(str(value["sex"]).upper(), "unknown")
        if "ssn" in value:
            patient["identifier"].append({"system": SSN_SYSTEM, "value": value["ssn"]})
        telecom = [{"system": k, "value": value[k]} for k in ("phone", "email") if k in value]
        if telecom:
            patient["telecom"] = telecom
        address: dict[str, Any] = {}
        if "street" in value:
            address["line"] = [value["street"]]
        for ours, theirs in (("city", "city"), ("state", "state"), ("zip", "postalCode")):
            if ours in value:
                address[theirs] = value[ours]
        if address:
            patient["address"] = [address]
    return patient


def match_bundle(entries: Sequence[tuple[dict, float, str]], base_url: str) -> dict:
    """A FHIR searchset Bundle of (Patient, score, grade), best first, as ``$match`` answers."""
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries),
            "entry": [{"fullUrl": f"{base_url}/Patient/{patient['id']}", "resource": patient,
                       "search": {"mode": "match", "score": round(score, 6),
                                  "extension": [{"url": MATCH_GRADE_URL, "valueCode": grade}]}}
                      for patient, score, grade in entries]}


def operation_outcome(severity: str, code: str, diagnostics: str, expression: str | None = None) -> dict:
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def pix_parameters(targets: Sequence[tuple[str, str]], golden_id: str, base_url: str) -> dict:
    """IHE PIXm (ITI-83) response: a Parameters of ``targetIdentifier`` and ``targetId``."""
    params: list[dict] = [{"name": "targetIdentifier", "valueIdentifier": {"system": s, "value": v}}
                          for s, v in targets]
    params.append({"name": "targetId", "valueReference": {"reference": f"{base_url}/Patient/{golden_id}"}})
    return {"resourceType": "Parameters", "parameter": params}


__all__ = ["GOLDEN_SYSTEM", "MATCH_GRADE_URL", "PATIENT_SCHEMA", "SSN_SYSTEM", "TOKEN_PATTERN", "golden_patient", "match_bundle", "operation_outcome",
           "patient_to_record", "pix_parameters", "split_token"]
