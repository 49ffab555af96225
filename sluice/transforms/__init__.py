"""Transforms: column mapping, declarative steps and validation, compiled to Polars."""

from sluice.transforms.mapping import MappingPlan, apply_mapping, plan_mapping
from sluice.transforms.steps import StepRunner
from sluice.transforms.validate import Validator

__all__ = ["MappingPlan", "StepRunner", "Validator", "apply_mapping", "plan_mapping"]
