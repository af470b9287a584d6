"""Our model classes and their flytekit counterparts."""

import importlib

# our module -> flytekit module, and the classes to pair in them
PAIRED_MODULES = {
    "flytecodec.models.execution": "flytekit.models.execution",
    "flytecodec.models.node_execution": "flytekit.models.node_execution",
    "flytecodec.models.admin.task_execution": "flytekit.models.admin.task_execution",
    "flytecodec.models.core.identifier": "flytekit.models.core.identifier",
    "flytecodec.models.core.execution": "flytekit.models.core.execution",
    "flytecodec.models.core.catalog": "flytekit.models.core.catalog",
    "flytecodec.models.common": "flytekit.models.common",
    "flytecodec.models.security": "flytekit.models.security",
    "flytecodec.models.matchable_resource": "flytekit.models.matchable_resource",
    "flytecodec.models.literals": "flytekit.models.literals",
    "flytecodec.models.event": "flytekit.models.event",
    "flytecodec.remote.executions": "flytekit.remote.executions",
}


def class_pairs():
    """``(ours, theirs)`` for every public class we define that flytekit also defines under the same name."""
    pairs = []
    for ours_name, theirs_name in PAIRED_MODULES.items():
        ours, theirs = importlib.import_module(ours_name), importlib.import_module(theirs_name)
        for name, cls in vars(ours).items():
            if name.startswith("_") or not isinstance(cls, type) or cls.__module__ != ours_name:
                continue
            other = getattr(theirs, name, None)
            if isinstance(other, type):
                pairs.append((cls, other))
    return pairs
