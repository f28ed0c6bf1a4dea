"""mpi: a master patient index engine.

Resolve records from many systems into golden records (one per person) with a probabilistic
Fellegi-Sunter model learned without labels, and with explicit rules that keep look-alikes
(twins, Jr/Sr, mother and newborn, shared placeholder identifiers) apart.

    import mpi
    records = mpi.read_records_csv("records.csv")
    result = mpi.resolve(records)
    result.clusters        # record_id, cluster_id
    result.review          # pairs for a data steward
"""
from .blocking import blocking_report, candidate_pairs
from .decision import Decision, Thresholds
from .errors import Conflict, InputError, ModelError, MPIError, NotFittedError, NotFound, StoreError
from .model.fellegi_sunter import FellegiSunterModel
from .model.serialise import load_model, save_model
from .model.supervised import fit_supervised
from .normalise.frame import normalise_frame
from .pipeline import Resolution, resolve_frame
from .population import PopulationStats
from .records import CANONICAL_COLUMNS, read_records_csv, validate_records
from .service import GoldenRecord, IngestResult, MasterPatientIndex, MatchCandidate
from .survivorship import SurvivorshipPolicy

resolve = resolve_frame

__version__ = "0.1.0"

__all__ = ["CANONICAL_COLUMNS", "Conflict", "Decision", "FellegiSunterModel", "GoldenRecord", "IngestResult",
           "InputError", "MPIError", "MasterPatientIndex", "MatchCandidate", "ModelError", "NotFittedError",
           "NotFound", "PopulationStats", "Resolution", "StoreError", "SurvivorshipPolicy", "Thresholds",
           "blocking_report", "candidate_pairs", "fit_supervised", "load_model", "normalise_frame",
           "read_records_csv", "resolve", "resolve_frame", "save_model", "validate_records", "__version__"]
