"""Duplicate detection and merge (issue 18): `duplicates`, `duplicateCandidates`,
`companyMerge`, `contactMerge`, `leadMerge`."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from crm_graphql.context import Info
from crm_graphql.errors import FieldError
from crm_graphql.permissions.base import auth
from crm_graphql.permissions.merges import entity_bit, mergeable, visible_q
from crm_graphql.resolvers.common import get_or_404
from crm_graphql.schema.common import PageInfo, model_enum, page_size, user_errors
from crm_graphql.schema.duplicates import (
    CompanyMergePayload,
    ContactMergePayload,
    DuplicateCandidate,
    DuplicateEntityEnum,
    DuplicateGroup,
    DuplicateGroupConnection,
    DuplicateGroupEdge,
    DuplicateRuleEnum,
    LeadMergePayload,
    MergeInput,
)
from crm_graphql.services import duplicates as service
from crm_graphql.services import merges
from crm_graphql.services.duplicates import DuplicateEntity
from crm_graphql.services.mutations import atomic

Described = strawberry.argument


def _entity(info: Info, kind: DuplicateEntityEnum) -> DuplicateEntity:
    """The entity, when the viewer may read its list (CR, or LR for leads)."""
    entity = model_enum(DuplicateEntity, kind)
    viewer = info.context.require_viewer()
    if not viewer.has(entity_bit(entity)):
        raise info.context.deny(f"duplicates of {entity.value}", f"needs {entity_bit(entity)}")
    return entity


def _rule(rule: service.DuplicateRule) -> DuplicateRuleEnum:
    return DuplicateRuleEnum[rule.value]


@strawberry.type
class DuplicatesQuery:
    @strawberry.field(
        description="Records you can see that may duplicate this one, most likely first "
        "(at most 50).",
        extensions=auth("CR", "LR"),
    )
    async def duplicates(
        self,
        info: Info,
        type: Annotated[DuplicateEntityEnum, Described(description="The kind of record.")],
        id: Annotated[strawberry.ID, Described(description="The record's id.")],
    ) -> list[DuplicateCandidate]:
        entity = _entity(info, type)
        visible = visible_q(info.context.require_viewer(), entity)
        model = service.MODELS[entity]
        target = await get_or_404(model, model.filter(visible), id)
        found = await service.candidates(entity, visible, target)
        return [
            DuplicateCandidate(
                id=strawberry.ID(str(c.record.pk)),
                rules=[_rule(r) for r in c.rules],
                score=c.score,
                record=c.record,
            )
            for c in found
        ]

    @strawberry.field(
        description="Groups of records you can see that share a matching key (same name, "
        "fiscal id, website domain, e-mail or phone), by rule then key.",
        extensions=auth("CR", "LR"),
    )
    async def duplicate_candidates(
        self,
        info: Info,
        type: Annotated[DuplicateEntityEnum, Described(description="The kind of record.")],
        first: Annotated[int | None, Described(description="Page size.")] = None,
        after: Annotated[str | None, Described(description="Cursor before the page.")] = None,
    ) -> DuplicateGroupConnection:
        entity = _entity(info, type)
        limits = info.context.settings.limits
        size = page_size(first, limits.page_size_default, limits.page_size_max)
        visible = visible_q(info.context.require_viewer(), entity)
        page = await service.groups(entity, visible, size, after)
        edges = [
            DuplicateGroupEdge(
                cursor=g.cursor,
                node=DuplicateGroup(
                    rule=_rule(g.rule),
                    key=g.key,
                    size=g.size,
                    score=g.score,
                    ids=[strawberry.ID(str(r.pk)) for r in g.records],
                    records=g.records,
                ),
            )
            for g in page.groups
        ]
        return DuplicateGroupConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )


def _choices(input: MergeInput) -> list[merges.Choice]:
    return [
        merges.Choice(
            path=f"fields[{i}]",
            field=c.field,
            custom_field_id=c.custom_field_id,
            from_id=c.from_id,
            value=c.value,
        )
        for i, c in enumerate(input.fields or [])
    ]


async def _merge(
    info: Info, entity: DuplicateEntity, input: MergeInput
) -> tuple[Any, list[FieldError]]:
    viewer = info.context.require_viewer()

    async def work() -> Any:
        survivor, others = await mergeable(
            viewer, info.context.deny, entity, input.survivor_id, input.other_ids
        )
        return await merges.merge(
            viewer, entity, survivor, others, _choices(input), info.context.request_id
        )

    return await atomic(work)


@strawberry.type
class DuplicatesMutation:
    @strawberry.mutation(
        description="Merge up to 9 companies into a survivor (CM and edit access to all): "
        "their contacts, contracts, invoices, activities, leads, members, child companies, "
        "files and custom values move to it; then they go to the trash.",
        extensions=auth("CM"),
    )
    async def company_merge(
        self, info: Info, input: Annotated[MergeInput, Described(description="The merge.")]
    ) -> CompanyMergePayload:
        company, errors = await _merge(info, DuplicateEntity.COMPANY, input)
        return CompanyMergePayload(company=company, errors=user_errors(errors))

    @strawberry.mutation(
        description="Merge up to 9 contacts into a survivor (edit access to all their "
        "companies): activities, files and custom values move to it; then they go to the trash.",
        extensions=auth("CW"),
    )
    async def contact_merge(
        self, info: Info, input: Annotated[MergeInput, Described(description="The merge.")]
    ) -> ContactMergePayload:
        contact, errors = await _merge(info, DuplicateEntity.CONTACT, input)
        return ContactMergePayload(contact=contact, errors=user_errors(errors))

    @strawberry.mutation(
        description="Merge up to 9 leads into a survivor (edit access to all): history, "
        "activities, mail, tags, files, custom values and calendar events move to it; then "
        "they go to the trash.",
        extensions=auth("LW", "LM"),
    )
    async def lead_merge(
        self, info: Info, input: Annotated[MergeInput, Described(description="The merge.")]
    ) -> LeadMergePayload:
        lead, errors = await _merge(info, DuplicateEntity.LEAD, input)
        return LeadMergePayload(lead=lead, errors=user_errors(errors))
