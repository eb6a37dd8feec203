"""Page styling that keeps the first screen useful: less empty space above the title and a title
that shrinks on a phone, so START is in view without scrolling (issue 23.4: at 390x844 it was at
y = 870)."""

from __future__ import annotations

import streamlit as st

CSS = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 3rem; padding-bottom: 3rem; }
@media (max-width: 640px) { [data-testid="stMainBlockContainer"] { padding-top: 3.75rem; } }
[data-testid="stMainBlockContainer"] h1 { font-size: clamp(1.6rem, 6vw, 2.4rem); padding: 0 0 0.25rem 0; }
</style>"""


def compact_page() -> None:
    st.html(CSS)
