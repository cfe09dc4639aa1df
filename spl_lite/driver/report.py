"""`spl-lite report`: one self-contained HTML file about a run of searches (docs/triage.md).

Per search: the funnel of records through its stages, the detections as a sortable table, and
charts: for `adaptive_threshold` the time series of its value per entity (the top N by flagged
records) with the mean, the band outside which a record is labelled, and the labelled points;
for `stats` the records counted per window. The charts are plotly figures with plotly.js written
into the file, so it opens without a network (`pip install 'spl-lite[report]'`).
"""
from __future__ import annotations

import html
import json
import math
import os
import sys
import tempfile
from datetime import datetime, timezone
from statistics import NormalDist

from ..core.batch import Batch
from .exits import EXIT_OK, EXIT_USAGE

_MAX_TABLE_ROWS = 1000
_MAX_POINTS = 20000  # per entity chart


def report_command(searches, run_args, output: str, top: int) -> int:
    """Run the searches as `spl-lite run` would (run_args: the parsed `run` options), then write
    the report to `output`."""
    try:
        import plotly  # noqa: F401
    except ImportError:
        print("spl-lite report: needs plotly; install it with pip install 'spl-lite[report]'", file=sys.stderr)
        return EXIT_USAGE
    from .run import Run

    with tempfile.TemporaryDirectory() as directory:
        run_args.output, run_args.output_dir = "-", directory
        run_args.collect = ("adaptive_threshold", "stats")
        run = Run(searches, run_args)
        code = run.execute()
        if code != EXIT_OK:
            return code
        detections = []
        for name in run.names:
            with open(os.path.join(directory, f"{name}.jsonl"), "rb") as handle:
                detections.append([json.loads(line) for line in handle if line.strip()])
    page = render(run.names, run.args.search, run.triage.traces, detections, top)
    with open(output, "w", encoding="utf-8") as handle:
        handle.write(page)
    print(f"spl-lite report: wrote {output}", file=sys.stderr)
    return EXIT_OK


def render(names, paths, traces, detections, top: int) -> str:
    parts, first = [], [True]

    def figure(fig) -> str:
        fig.update_layout(margin=dict(l=50, r=20, t=50, b=40), height=380, template="plotly_white")
        text = fig.to_html(full_html=False, include_plotlyjs=first[0], config={"displaylogo": False})
        first[0] = False
        return f'<div class="chart">{text}</div>'

    for name, path, trace, found in zip(names, paths, traces, detections):
        parts.append(f'<section><h2>{html.escape(name)}</h2><p class="path">{html.escape(str(path))} &middot; '
                     f"{len(found):,} detections</p>")
        parts.append(figure(_funnel(trace)))
        for stage in trace.stages:
            if stage.collected is None:
                continue
            records = Batch.concat(stage.collected)
            if stage.node.command == "adaptive_threshold":
                parts.append(f"<h3>#{stage.node.id} adaptive_threshold {html.escape(stage.node.describe())}</h3>")
                charts = [figure(fig) for fig in _threshold_figures(stage.node, records, top)]
                parts += charts or ["<p>no records reached it</p>"]
            elif stage.node.command == "stats":
                parts.append(f"<h3>#{stage.node.id} stats {html.escape(stage.node.describe())}</h3>")
                parts.append(figure(_windows_figure(stage.node, records)) if records.length
                             else "<p>no window was emitted</p>")
        parts.append(_table(found))
        parts.append("</section>")
    return _PAGE.replace("{body}", "\n".join(parts))


def _funnel(trace):
    import plotly.graph_objects as go

    stages = trace.stages
    labels = [f"#{s.node.id} {s.label}" for s in stages]
    values = [s.records_in if s.node.command == "into" else s.records_out for s in stages]
    fig = go.Figure(go.Funnel(y=labels, x=values, textinfo="value+percent initial"))
    fig.update_layout(title="records out of each stage")
    fig.update_yaxes(automargin=True)
    return fig


def _time(ms) -> datetime | None:
    if ms.__class__ not in (int, float) or ms != ms:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def _threshold_figures(node, batch: Batch, top: int) -> list:
    import plotly.graph_objects as go

    if not batch.length:
        return []
    gaussian = node.algorithm == "gaussian"
    threshold = node.threshold if node.threshold is not None and node.threshold == node.threshold else (
        0.01 if gaussian else 0.1)
    z = NormalDist().inv_cdf(1 - threshold) if gaussian else None
    entities = batch.column(node.entity) if node.entity else [None] * batch.length
    by_entity: dict[str, list] = {}
    columns = [batch.column(node.timestamp), batch.column(node.value), batch.column("label"),
               batch.column("mean") if gaussian else [None] * batch.length,
               batch.column("variance") if gaussian else [None] * batch.length]
    for entity, ts, value, label, mean, variance in zip(entities, *columns):
        when = _time(ts)
        if when is None or value.__class__ not in (int, float):
            continue
        key = "all records (no entity)" if not node.entity else json.dumps(entity) if not isinstance(entity, str) else entity
        by_entity.setdefault(key, []).append((ts, when, value, label is True, mean, variance))
    ranked = sorted(by_entity.items(), key=lambda item: (-sum(p[3] for p in item[1]), -len(item[1]), item[0]))[:top]
    figures = []
    for entity, points in ranked:
        points.sort(key=lambda p: p[0])
        points = points[-_MAX_POINTS:]
        # x: the records in event-time order (a gap of weeks between two captures takes no room);
        # the ticks and the hover give the time.
        xs = list(range(len(points)))
        when = [p[1].strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] for p in points]
        fig = go.Figure()
        if gaussian:
            band = [(p[4], math.sqrt(p[5]) if p[5] is not None and p[5] >= 0 else None) for p in points]
            upper = [m + z * sd if m is not None and sd is not None else None for m, sd in band]
            lower = [m - z * sd if m is not None and sd is not None else None for m, sd in band]
            fig.add_trace(go.Scatter(x=xs, y=upper, mode="lines", line=dict(width=0.5, color="rgba(44,160,44,0.5)"),
                                     name=f"band: label when outside (p = {threshold:g} each tail)", hoverinfo="skip"))
            fig.add_trace(go.Scatter(x=xs, y=lower, mode="lines", line=dict(width=0.5, color="rgba(44,160,44,0.5)"),
                                     fill="tonexty", fillcolor="rgba(44,160,44,0.18)", showlegend=False,
                                     hoverinfo="skip"))
            fig.add_trace(go.Scatter(x=xs, y=[p[4] for p in points], mode="lines", name="mean",
                                     line=dict(color="rgb(44,120,44)"), customdata=when,
                                     hovertemplate="%{customdata}<br>mean %{y}<extra></extra>"))
        fig.add_trace(go.Scatter(x=xs, y=[p[2] for p in points], mode="markers", name=node.value,
                                 marker=dict(size=5, color="rgba(31,119,180,0.6)"), customdata=when,
                                 hovertemplate="%{customdata}<br>" + node.value + " %{y}<extra></extra>"))
        flagged = [i for i, p in enumerate(points) if p[3]]
        fig.add_trace(go.Scatter(x=flagged, y=[points[i][2] for i in flagged], mode="markers",
                                 name=f"label true ({len(flagged):,})", customdata=[when[i] for i in flagged],
                                 hovertemplate="%{customdata}<br>" + node.value + " %{y} (label true)<extra></extra>",
                                 marker=dict(size=10, color="rgb(214,39,40)", symbol="x")))
        ticks = sorted({round(i * (len(points) - 1) / 6) for i in range(7)})
        fig.update_xaxes(tickvals=ticks, ticktext=[when[i][:16] for i in ticks], title="records in event-time order (UTC)")
        fig.update_layout(title=f"{html.escape(str(entity))}: {node.value} ({len(points):,} records)")
        figures.append(fig)
    return figures


def _windows_figure(node, batch: Batch):
    import plotly.graph_objects as go

    counted = next((n for f, _, n in node.aggregations if f == "count"), node.aggregations[0][2])
    totals: dict = {}
    groups: dict = {}
    for start, value in zip(batch.column("window_start"), batch.column(counted)):
        when = _time(start)
        if when is None:
            continue
        totals[when] = totals.get(when, 0) + (value if value.__class__ in (int, float) else 0)
        groups[when] = groups.get(when, 0) + 1
    times = sorted(totals)
    fig = go.Figure(go.Bar(x=[t.strftime("%Y-%m-%d %H:%M:%S") for t in times], y=[totals[t] for t in times], name=counted,
                           customdata=[groups[t] for t in times],
                           hovertemplate="%{x}<br>" + counted + " %{y}<br>%{customdata} groups<extra></extra>"))
    fig.update_layout(title=f"{counted} per window (summed over the groups)", bargap=0.1)
    fig.update_xaxes(type="category", title="window start (UTC)")
    return fig


def _cell(value) -> str:
    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) > 300:
        text = text[:297] + "..."
    return html.escape(text)


def _table(records: list[dict]) -> str:
    if not records:
        return "<p>no detections</p>"
    names: dict[str, None] = {}
    for record in records[:_MAX_TABLE_ROWS]:
        names.update(dict.fromkeys(k for k in record if k != "body"))
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = "\n".join("<tr>" + "".join(f"<td>{_cell(r.get(n))}</td>" for n in names) + "</tr>"
                     for r in records[:_MAX_TABLE_ROWS])
    more = (f"<p>first {_MAX_TABLE_ROWS:,} of {len(records):,} detections</p>" if len(records) > _MAX_TABLE_ROWS else "")
    return (f'<h3>detections</h3>{more}<div class="scroll"><table class="sortable"><thead><tr>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table></div>")


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>spl-lite report</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
section { margin-bottom: 3em; } .path { color: #666; }
.scroll { max-height: 32em; overflow: auto; border: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 12px; } td, th { border: 1px solid #ddd; padding: 2px 6px; vertical-align: top; }
th { background: #f3f3f3; cursor: pointer; position: sticky; top: 0; } th.asc::after { content: " \\25B2"; } th.desc::after { content: " \\25BC"; }
.chart { max-width: 1100px; }
</style></head><body>
<h1>spl-lite report</h1>
{body}
<script>
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, column) {
    th.addEventListener("click", function () {
      var ascending = !th.classList.contains("asc");
      table.querySelectorAll("th").forEach(function (h) { h.classList.remove("asc", "desc"); });
      th.classList.add(ascending ? "asc" : "desc");
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[column].textContent, y = b.cells[column].textContent;
        var nx = parseFloat(x), ny = parseFloat(y);
        var order = (!isNaN(nx) && !isNaN(ny) && String(nx) === x.trim() && String(ny) === y.trim())
          ? nx - ny : x.localeCompare(y);
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
</script>
</body></html>
"""
