"""Plotly figures for emotion probabilities, in the same colours as the boxes on the video."""

from __future__ import annotations

import plotly.graph_objects as go

from fer.labels import color_hex, display_name


def percent(p: float) -> str:
    """The app's one number format for probabilities: whole percent (the model is not more
    precise than that), '<1%' rather than a misleading '0%' for a small non-zero value."""
    return "<1%" if 0 < p < 0.005 else f"{p:.0%}"


def probability_bars(probs: dict[str, float], title: str | None = None, height: int = 300) -> go.Figure:
    """Horizontal bars, one per emotion in label order, coloured by emotion, on a fixed 0-1 axis
    so that live updates do not make the chart jump."""
    labels = list(probs)[::-1]  # plotly draws the first category at the bottom
    values = [probs[k] for k in labels]
    fig = go.Figure(go.Bar(
        x=values, y=[display_name(k) for k in labels], orientation="h",
        marker_color=[color_hex(k) for k in labels], marker_line_color="#555", marker_line_width=0.5,
        text=[percent(v) for v in values], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{text}<extra></extra>"))
    margin = {"l": 10, "r": 40, "t": 40 if title else 10, "b": 10}
    fig.update_layout(title=title, height=height, margin=margin,
                      xaxis={"range": [0, 1], "tickformat": ".0%", "title": None},
                      yaxis={"title": None}, showlegend=False, uirevision="constant")
    return fig
