"""The compiled read path: a read operation the compiler covers runs as SQL statements
that build the response's JSON (one per root field), beside the resolvers; anything
else runs on graphql-core's executor as before. catalog.py and roots.py say what is
covered, plan.py plans (and caches plans), sql.py writes the dialects, run.py runs."""

from crm_graphql.compiled.plan import PlanCache, permission_class
from crm_graphql.compiled.run import run_compiled

__all__ = ["PlanCache", "permission_class", "run_compiled"]
