"""Schema extensions and validation rules: the query cost limit (pricing.py, cost.py),
error masking (masking.py), the audit of denials (denials.py), the gates that refuse
an operation before it runs (gates.py) and the compiled read path's hook (compiled.py)."""

from crm_graphql.extensions.compiled import CompiledReads, MixedExecutor
from crm_graphql.extensions.cost import (
    OperationLimits,
    cost_limit,
    cost_limit_rule,
    operation_cost,
    too_costly,
)
from crm_graphql.extensions.denials import AuditDenials
from crm_graphql.extensions.gates import RefuseNulBytes, RequireOperationName, ScopeGate
from crm_graphql.extensions.masking import MaskUnexpectedErrors, default_code, truncate_errors
from crm_graphql.extensions.pricing import QueryTooComplex

__all__ = [
    "AuditDenials",
    "CompiledReads",
    "MaskUnexpectedErrors",
    "MixedExecutor",
    "OperationLimits",
    "QueryTooComplex",
    "RefuseNulBytes",
    "RequireOperationName",
    "ScopeGate",
    "cost_limit",
    "cost_limit_rule",
    "default_code",
    "operation_cost",
    "too_costly",
    "truncate_errors",
]
