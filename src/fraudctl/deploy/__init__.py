"""The deploy engine: per resource kind, read the actual state, compute the changes (a Plan value),
apply them in dependency order."""
