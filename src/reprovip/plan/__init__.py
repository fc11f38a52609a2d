"""Expand a study into execution records: subjects x conditions x repetitions, with stable ids."""

from reprovip.plan.expand import Condition, PlannedExecution, conditions, execution_recipe, expand, recipe_hash

__all__ = ["Condition", "PlannedExecution", "conditions", "execution_recipe", "expand", "recipe_hash"]
