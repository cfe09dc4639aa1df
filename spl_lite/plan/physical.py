"""The physical plan: how one run reads its input and where its searches run, chosen once.

From the searches' logical plans and the run's options it decides
- reading: whole events, or only the `input_event` keys the searches read (projected), with the
  keys decoded late for the rows a filter leaves (deferred), the events themselves decoded late for
  a sink that writes them (events late), and for OCSF documents read by key, the keys they are made
  of (documents);
- workers: one process, or N processes running the stateless head of every search (all of them
  one chain) over byte ranges of plain files, with the filter after a search's first stateful node
  pushed into them where it can be;
- per search, the filters known early (rules/early_filters.py);
- per search, the OCSF sources that read their documents only by key (rules/documents_by_key.py),
  which read flat events as columns (io/ocsf.py DocumentsView) rather than documents.
`explain` prints it; every choice has the plain way beside it, which gives the same bytes.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace

from ..io.formats import DOCUMENT_KEYS
from ..io.framing import can_split
from ..io.decoding import Decoder
from ..io.projection import decoder_for, guard_keys
from .logical import Plan
from .rules.documents_by_key import document_keys, ocsf_sources, sources_read_by_key
from .rules.early_filters import filters_known_early
from .rules.projection import deferred_keys, events_written, keys_read
from .rules.shared_work import shared_expressions
from .rules.stateless_head import PushedFilter, pushed_filter, stateless_head

# msgspec cannot name a field with these characters; a key holding one is not projected.
_UNNAMEABLE = re.compile(r'["\\\x00-\x1f]')
_PARALLEL_MIN_BYTES = 64 << 20  # below this, starting worker processes costs more than it saves
_SHARED_SHOWN = 12  # shared expressions `explain` lists
# Events per batch when several searches share the pass (one search: the reader's 2048 whole or
# 16384 projected). Each search pays a fixed cost per batch in every operator, which larger batches
# spread; memory grows with the batch (benchmarks/bench_library.py: README, Performance).
_SHARED_PASS_BATCH_SIZE = 8192
_SHARED_PASS_PROJECTED_BATCH_SIZE = 32768


@dataclass(frozen=True)
class Reading:
    """Whole events (`keys` None, with the reason) or a projection of `keys`, `deferred` decoded late."""

    keys: frozenset[str] | None
    deferred: frozenset[str]
    reason: str = ""
    whole_batch_size: int | None = None  # whole events per batch; None: the reader's default
    projected_batch_size: int | None = None  # projected events per batch; None: the reader's default
    # Projected, and a sink writes the events whole: they are decoded late, for the records it gets.
    events_late: bool = False
    # Projected, and searches read OCSF documents made of the events by key (io/ocsf.py DocumentsView).
    documents: bool = False

    def decoder(self, input_format: str) -> Decoder:
        """The decoder this reading needs (io/decoding.py)."""
        return decoder_for(self.keys, input_format, self.deferred, self.events_late, self.documents)

    def describe(self) -> str:
        if self.keys is None:
            per_batch = f", {self.whole_batch_size} a batch" if self.whole_batch_size else ""
            return f"whole events ({self.reason}){per_batch}"
        text = f"only the keys {', '.join(sorted(self.keys))} of each event (projected)"
        if self.projected_batch_size:
            text += f", {self.projected_batch_size} a batch"
        if self.deferred:
            text += f"; deferred: {', '.join(sorted(self.deferred))} (decoded only for the records still there when they are read)"
        if self.events_late:
            text += "; whole events decoded only for the records that reach a sink writing them"
        if self.documents:
            text += "; OCSF documents read by key from these keys (a block with a line that may not be an SSA event is read whole)"
        return text


@dataclass(frozen=True)
class PhysicalPlan:
    reading: Reading
    workers: int
    heads: tuple[int, ...]  # per search, the last node of its stateless head, when workers > 1
    after_heads: tuple[str, ...]  # per search, the command after its head (a sink's `into`, or a stateful one)
    pushed: tuple[PushedFilter | None, ...]  # per search, when workers > 1
    early_filters: tuple[dict[int, int], ...]  # per search: {node: the filter applied before it}
    workers_reason: str = ""
    shared: tuple[tuple[str, int], ...] = ()  # (expression, searches having it) computed once per batch
    by_key: tuple[frozenset[int], ...] = ()  # per search: its OCSF sources read only by key (none: plain)
    whole_documents: tuple[int, ...] = ()  # the searches (from 1) reading OCSF sources, none of them by key

    def explain(self) -> str:
        lines = [f"reading: {self.reading.describe()}"]
        if self.workers > 1:
            lines += self._explain_heads()
        else:
            lines.append("running: one process" + (f" ({self.workers_reason})" if self.workers_reason else ""))
        for index, found in enumerate(self.early_filters):
            for node_id, filter_id in sorted(found.items()):
                prefix = f"search {index + 1}: " if len(self.early_filters) > 1 else ""
                lines.append(f"{prefix}filter #{filter_id} is applied before #{node_id} (it reads nothing #{node_id} sets)")
        lines += self._explain_by_key()
        if self.shared:
            lines.append(f"shared: {len(self.shared)} expressions over the source computed once per batch for every "
                         "search that has them (text results dictionary-encoded; a condition on one such result "
                         "evaluated once per distinct value; literal text of match_regex and "
                         "like looked for once per distinct value; an expression over one of their results, "
                         "whatever a search named it, is shared too):")
            lines += [f"  {count:>3} searches: {text}" for text, count in self.shared[:_SHARED_SHOWN]]
            if len(self.shared) > _SHARED_SHOWN:
                lines.append(f"  ... and {len(self.shared) - _SHARED_SHOWN} more (--json lists them all)")
        return "\n".join(lines)

    def _explain_heads(self) -> list[str]:
        rest = "the main process runs the rest in input order"
        if len(self.heads) == 1:
            (last,), (pushed,) = self.heads, self.pushed
            filtered = "" if pushed is None else f", and the filter #{pushed.where_id} after #{pushed.stateful_id}"
            return [f"running: {self.workers} worker processes run nodes #0-#{last}{filtered}; {rest}"]
        lines = [f"running: {self.workers} worker processes run each search's stateless head; {rest}:"]
        to_sink = sum(command == "into" for command in self.after_heads)
        if to_sink:
            lines.append(f"  {to_sink} search{'es' if to_sink > 1 else ''}: all but the sink")
        stateful = [(i, last, pushed, command) for i, (last, pushed, command)
                    in enumerate(zip(self.heads, self.pushed, self.after_heads)) if command != "into"]
        lines += [f"  search {i + 1}: nodes #0-#{last}, before `{command}` #{last + 1}"
                  + ("" if pushed is None else f", and the filter #{pushed.where_id} after it")
                  for i, last, pushed, command in stateful[:_SHARED_SHOWN]]
        if len(stateful) > _SHARED_SHOWN:
            lines.append(f"  ... and {len(stateful) - _SHARED_SHOWN} more (--json lists them all)")
        return lines

    def _explain_by_key(self) -> list[str]:
        viewed = [i + 1 for i, found in enumerate(self.by_key) if found]
        if not viewed:
            return []
        several = len(self.by_key) > 1
        whom = f"search{'es' if len(viewed) > 1 else ''} {', '.join(map(str, viewed))}" if several else "the search"
        workers = " (in the worker processes)" if self.workers > 1 else ""
        line = (f"documents: {whom} read{'s' if whom == 'the search' else ''} the OCSF documents of flat SSA events "
                f"only by key{workers}: each value a column computed from the events' own, once per batch"
                f"{' for all of them' if len(viewed) > 1 else ''}; documents built only for records a sink "
                "writes with a map of them")
        if self.whole_documents:
            line += f"; search{'es' if len(self.whole_documents) > 1 else ''} "
            line += f"{', '.join(map(str, self.whole_documents))} read whole documents"
        return [line]

    def to_json(self) -> dict:
        return {
            "reading": {
                "mode": "whole" if self.reading.keys is None else "projected",
                "keys": sorted(self.reading.keys or ()),
                "deferred": sorted(self.reading.deferred),
                "events_late": self.reading.events_late,
                "documents": self.reading.documents,
                "reason": self.reading.reason,
            },
            "workers": self.workers,
            "heads": list(self.heads),
            "after_heads": list(self.after_heads),
            "pushed_filters": [None if pushed is None else {
                "stateful": pushed.stateful_id, "filter": pushed.where_id, "reads": sorted(pushed.reads),
            } for pushed in self.pushed],
            "early_filters": [{str(k): v for k, v in found.items()} for found in self.early_filters],
            "shared": [{"expression": text, "searches": count} for text, count in self.shared],
            "documents_by_key": [sorted(found) for found in self.by_key],
            "whole_documents": list(self.whole_documents),
        }


def choose_reading(plans: list[Plan], input_format: str = "auto", whole_events: bool = False,
                   documents_by_key: bool = True, read_by_key: tuple[frozenset[int], ...] | None = None) -> Reading:
    """Projected where every plan allows it: only SSA-shaped lines can be read in part (`auto` and
    `ssa`); the others convert whole records. A key is deferred only if every plan can wait for it.
    With `documents_by_key`, a plan reading OCSF documents only by key (of flat events, `auto`) is
    served by the keys they are made of (`read_by_key`: each plan's sources_read_by_key, when the
    caller has them). Events come in larger batches when several searches share them."""
    reading = _projection(plans, input_format, whole_events, documents_by_key, read_by_key)
    if len(plans) > 1:
        if reading.keys is None:
            return replace(reading, whole_batch_size=_SHARED_PASS_BATCH_SIZE)
        return replace(reading, projected_batch_size=_SHARED_PASS_PROJECTED_BATCH_SIZE)
    return reading


def _projection(plans: list[Plan], input_format: str, whole_events: bool, documents_by_key: bool,
                read_by_key: tuple[frozenset[int], ...] | None) -> Reading:
    if whole_events:
        return Reading(None, frozenset(), "--whole-events")
    if input_format not in ("auto", "ssa") or not plans:
        return Reading(None, frozenset(), f"--input-format {input_format} converts whole records")
    keys: set[str] = set()
    late: set[str] = set()
    now: set[str] = set()
    events_late = documents = False
    for index, plan in enumerate(plans):
        found = keys_read(plan)
        if found is None:
            found = events_written(plan)
            events_late |= found is not None
        if found is None and documents_by_key and input_format == "auto":
            found = document_keys(plan, None if read_by_key is None else read_by_key[index])
            documents |= found is not None
        if found is None:
            return Reading(None, frozenset(), "a search uses its events other than through map_get of named keys")
        keys |= found
        deferred = deferred_keys(plan)
        late |= deferred
        now |= found - deferred
    if any(_UNNAMEABLE.search(key) for key in keys) or keys & set(guard_keys(input_format)):
        # a search reading `_raw` or `EventID` reads raw records, which are converted whole
        return Reading(None, frozenset(), "a search reads keys of raw records")
    if documents:  # decoded with their blocks: every document is made of them, and the decoder checks some
        late -= DOCUMENT_KEYS
    return Reading(frozenset(keys), frozenset(late - now), events_late=events_late, documents=documents)


def choose(plans: list[Plan], input_format: str = "auto", whole_events: bool = False,
           workers: int | None = 1, paths: list[str] = (), one_process_because: str = "",
           documents_by_key: bool = True) -> PhysicalPlan:
    """The physical plan of a run. `workers` None picks one per core for plain files over 64 MiB;
    `one_process_because` names options that need one process (--state, --follow, ...);
    `documents_by_key` False gives every search whole OCSF documents (the plain path)."""
    by_key = tuple(sources_read_by_key(plan) if documents_by_key else frozenset() for plan in plans)
    reading = choose_reading(plans, input_format, whole_events, documents_by_key, by_key)
    early = tuple(filters_known_early(plan) for plan in plans)
    count, heads, reason = _parallelism(plans, workers, list(paths), one_process_because)
    pushed = tuple(pushed_filter(plan, last) for plan, last in zip(plans, heads))
    shared = tuple(shared_expressions(plans)) if len(plans) > 1 else ()
    whole = tuple(i + 1 for i, (plan, found) in enumerate(zip(plans, by_key)) if ocsf_sources(plan) and not found)
    after_heads = tuple(plan.nodes[last + 1].command for plan, last in zip(plans, heads))
    return PhysicalPlan(reading, count, heads, after_heads, pushed, early, reason, shared, by_key,
                        whole if any(by_key) else ())


def _parallelism(plans: list[Plan], requested: int | None, paths: list[str],
                 because: str) -> tuple[int, tuple[int, ...], str]:
    """How many processes, and each search's stateless head when more than one."""
    if because:
        return 1, (), because
    heads = tuple(stateless_head(plan) for plan in plans)
    if None in heads:
        which = "the search is" if len(plans) == 1 else f"search {heads.index(None) + 1} is"
        return 1, (), f"{which} not one chain"
    if not paths or not all(can_split(p) for p in paths):
        return 1, (), "only plain files can be split into ranges"
    if requested is None:
        large = sum(os.path.getsize(p) for p in paths) >= _PARALLEL_MIN_BYTES
        requested = (os.cpu_count() or 1) if large else 1
    if requested <= 1:
        return 1, (), ""
    return requested, heads, ""
