"""Scenario files: schema, loading with every error at once, shipped presets."""

from .loader import Resolved, ScenarioError, list_presets, load_scenario, load_scenarios, scenario_from_dict
from .schema import Scenario

__all__ = ["Resolved", "Scenario", "ScenarioError", "list_presets", "load_scenario", "load_scenarios", "scenario_from_dict"]
