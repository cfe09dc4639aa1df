"""The stateless head: the start of a one-chain plan that workers can run on parts of the input."""
from __future__ import annotations

from dataclasses import dataclass

from ..commands.sink import Sink
from ..logical import Plan
from .early_filters import filters_known_early


def stateless_head(plan: Plan) -> int | None:
    """The id of the last node of the stateless head, or None when the plan is not one chain.

    Only single-chain plans (one source, each node feeding the next) are split; programs with
    `$variables` and unions run in one process.
    """
    if not plan.is_chain():
        return None
    nodes = plan.nodes
    last = 0
    while last + 1 < len(nodes) and nodes[last + 1].stateless and not isinstance(nodes[last + 1], Sink):
        last += 1
    return last


def fields_after_head(plan: Plan, head_last: int) -> frozenset[str] | None:
    """The fields of the head's output that the rest of the plan can see (None: all): a node that
    passes no field through (`stats` keeps only its groups and aggregates) sees only what it reads."""
    following = plan.nodes[head_last + 1]
    return None if following.passes_through else following.reads()


@dataclass(frozen=True)
class PushedFilter:
    """A filter (node `where_id`) that the workers apply although it comes after the stateful
    node `stateful_id`, which reads only `reads` and sets only what the filter does not read."""

    stateful_id: int
    where_id: int
    reads: frozenset[str]
    head_fields: tuple[str, ...]


def pushed_filter(plan: Plan, head_last: int) -> PushedFilter | None:
    nodes = plan.nodes
    if head_last + 2 >= len(nodes) or filters_known_early(plan).get(head_last + 1) != head_last + 2:
        return None
    stateful, head_fields = nodes[head_last + 1], nodes[head_last].fields
    reads = stateful.reads()
    if head_fields is None or reads is None or not reads <= set(head_fields):
        return None
    return PushedFilter(stateful.id, head_last + 2, reads, head_fields)
