"""Scenario files: schema, loading with every error at once, shipped presets.

:func:`load_scenario` / :func:`load_scenarios` give :class:`Scenario` objects (the type every
public function takes); :func:`resolve_scenario` / :func:`resolve_scenarios` give
:class:`Resolved` objects that also carry where every value came from (for ``pardus explain``).
"""

from .loader import (
    Resolved,
    ScenarioError,
    apply_overrides,
    list_presets,
    load_scenario,
    load_scenarios,
    resolve_scenario,
    resolve_scenarios,
    scenario_from_dict,
)
from .schema import Scenario

__all__ = [
    "Resolved",
    "Scenario",
    "ScenarioError",
    "apply_overrides",
    "list_presets",
    "load_scenario",
    "load_scenarios",
    "resolve_scenario",
    "resolve_scenarios",
    "scenario_from_dict",
]
