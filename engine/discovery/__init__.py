"""Semantic discovery, HiGAN's pipeline headless: find which layers of a generator hold which semantics.

Yang, Shen & Zhou ("Semantic Hierarchy Emerges in Deep Generative
Representations for Scene Synthesis") probe a generator in four steps, one
module each (the method and the file formats are in ``docs/analysis.md``):

1. :mod:`~strata.engine.discovery.annotate`: sample codes ``z``, map them
   to ``w``, synthesize at truncation ``psi`` and score every image with a
   predictor; shards of one big run are joined bit for bit.
2. :mod:`~strata.engine.discovery.fit`: for each semantic, a linear SVM on
   the ``w`` of the ``k`` highest- and lowest-scoring codes; its unit normal
   is the boundary.
3. :mod:`~strata.engine.discovery.rescoring`: on fresh samples, move along
   each boundary on all layers and on each single layer, re-annotate, and
   measure the mean rise of the score, ``dS``, with a bootstrap.
4. :mod:`~strata.engine.discovery.hierarchy`: the layers holding most of
   the response give the boundary's default layers and its level; the
   library and its report are written.

:mod:`~strata.engine.discovery.pipeline` runs all four, resumably;
:mod:`~strata.engine.discovery.predictors` is the registry that finds the
predictors, and the plug-in point for new ones;
:mod:`~strata.engine.discovery.report` draws the hierarchy.

Every long step takes ``progress(fraction, message)`` and ``should_stop()``
callbacks and raises :class:`~strata.engine.core.jobs.Cancelled` when asked
to stop. Work stays on the generator's device (CUDA when present).

Finds predictors through its registry and never imports :mod:`strata.engine.rooms`
(an import-linter contract in ``pyproject.toml``).
"""

from strata.engine.core.jobs import Cancelled
from strata.engine.discovery.annotate import (ANNOTATIONS_FILE, Annotations, load_annotations, merge_annotations,
                                              sample_and_annotate, shard_file_name, shard_range)
from strata.engine.discovery.fit import FittedBoundary, condition_boundary, fit_boundaries
from strata.engine.discovery.hierarchy import (DEFAULT_MASS, LEVEL_THRESHOLDS, choose_layers, level_of,
                                               write_library)
from strata.engine.discovery.pipeline import LIBRARY_DIR, RESCORE_CACHE, run_discovery
from strata.engine.discovery.predictors import (FunctionPredictor, Predictor, PredictorError, SemanticSpec,
                                                available_predictors, get_predictor, register_predictor,
                                                resolve_predictor, unregister_predictor)
from strata.engine.discovery.rescoring import BOOTSTRAP_RESAMPLES, LayerResponse, Rescoring, rescore

__all__ = [
    "ANNOTATIONS_FILE",
    "BOOTSTRAP_RESAMPLES",
    "DEFAULT_MASS",
    "LEVEL_THRESHOLDS",
    "LIBRARY_DIR",
    "RESCORE_CACHE",
    "Annotations",
    "Cancelled",
    "FittedBoundary",
    "FunctionPredictor",
    "LayerResponse",
    "Predictor",
    "PredictorError",
    "Rescoring",
    "SemanticSpec",
    "available_predictors",
    "choose_layers",
    "condition_boundary",
    "fit_boundaries",
    "get_predictor",
    "level_of",
    "load_annotations",
    "merge_annotations",
    "register_predictor",
    "rescore",
    "resolve_predictor",
    "run_discovery",
    "sample_and_annotate",
    "shard_file_name",
    "shard_range",
    "unregister_predictor",
    "write_library",
]
