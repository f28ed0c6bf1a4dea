"""Models as versioned JSON (never pickle): readable, diffable, safe to load from anywhere."""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os

import numpy as np

from ..compare.comparisons import COMPARISONS
from ..errors import ModelError
from .fellegi_sunter import FellegiSunterModel

FORMAT = "mpi-fellegi-sunter"
FORMAT_VERSION = 1


def model_to_dict(model: FellegiSunterModel, thresholds: dict | None = None) -> dict:
    model._check()
    comps = []
    for j, c in enumerate(model.comparisons):
        comps.append({"name": c.name, "tf_column": c.tf_column,
                      "u_exact_random": model.u_exact_random_.get(c.tf_column) if c.tf_column else None,
                      "levels": [{"gamma": g, "label": c.levels[g], "m_probability": float(model.m_[j][g]),
                                  "u_probability": float(model.u_[j][g]),
                                  "match_weight": float(model.weights_[j][g])} for g in range(c.n_levels)]})
    body = {"format": FORMAT, "format_version": FORMAT_VERSION, "prior": model.prior_, "comparisons": comps,
            "thresholds": thresholds or {}, "training": getattr(model, "training_", {})}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]
    body["model_version"] = digest
    body["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return body


def model_from_dict(data: dict) -> FellegiSunterModel:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ModelError("not an mpi model file (missing format 'mpi-fellegi-sunter')")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelError(f"model format version {version!r} is not supported by this release (expects "
                         f"{FORMAT_VERSION}); retrain it with `mpi train RECORDS.csv --output MODEL.json`")
    by_name = {c["name"]: c for c in data.get("comparisons", [])}
    model = FellegiSunterModel()
    m, u = [], []
    for c in COMPARISONS:
        spec = by_name.get(c.name)
        if spec is None or len(spec.get("levels", [])) != c.n_levels:
            raise ModelError(f"model comparison {c.name!r} does not match this release's levels; retrain it "
                             f"with `mpi train`")
        levels = sorted(spec["levels"], key=lambda lv: lv["gamma"])
        m.append(np.array([lv["m_probability"] for lv in levels], dtype=float))
        u.append(np.array([lv["u_probability"] for lv in levels], dtype=float))
    if any((x <= 0).any() or not np.isfinite(x).all() for x in m + u):
        raise ModelError("model probabilities must be positive finite numbers")
    prior = float(data.get("prior", 0))
    if not 0 < prior < 1:
        raise ModelError("model prior must lie strictly between 0 and 1")
    model._set_parameters(m, u, prior)
    if str(data.get("training", {}).get("method", "")).startswith("supervised"):
        # supervised weights are fitted directly, not derived from m/u
        model.weights_ = [np.array([lv["match_weight"] for lv in sorted(by_name[c.name]["levels"],
                                                                          key=lambda lv: lv["gamma"])], dtype=float)
                          for c in COMPARISONS]
    model.u_exact_random_ = {spec["tf_column"]: float(spec["u_exact_random"]) for spec in by_name.values()
                             if spec.get("tf_column") and spec.get("u_exact_random")}
    model.training_ = data.get("training", {})
    model.model_version_ = data.get("model_version", "")
    return model


def save_model(model: FellegiSunterModel, path: str | os.PathLike[str], thresholds: dict | None = None) -> str:
    """Write the model as JSON atomically; returns its version (a content hash)."""
    body = model_to_dict(model, thresholds)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(body, fh, indent=1)
    os.replace(tmp, path)
    return body["model_version"]


def load_model(path: str | os.PathLike[str]) -> FellegiSunterModel:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise ModelError(f"cannot read the model file ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"the model file is not valid JSON (line {getattr(exc, 'lineno', '?')})") from None
    return model_from_dict(data)
