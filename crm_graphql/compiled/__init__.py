"""The compiled read path: the root fields of a read operation that the compiler covers
run as SQL statements that build the response's JSON (one per root field), beside the
resolvers; any other root field (and any other operation) runs on graphql-core's
executor as before. catalog.py and roots.py say what is
covered, plan.py plans (and caches plans), sql.py writes the dialects, run.py runs."""

from crm_graphql.compiled.plan import PlanCache, permission_class
from crm_graphql.compiled.run import Compiled, run_compiled

__all__ = ["Compiled", "PlanCache", "permission_class", "run_compiled"]
