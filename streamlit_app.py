"""Facial emotion recognition in the browser: live webcam, photos and videos.

Run with `streamlit run streamlit_app.py`; the parts live in `fer/app/`.
"""

import logging
from pathlib import Path

import streamlit as st

from fer.app.live import render_live_tab
from fer.app.photo import render_photo_tab
from fer.app.sidebar import render_sidebar

MODEL_CARD = Path(__file__).resolve().parent / "weights" / "MODEL_CARD.md"

# streamlit-webrtc reports errors in its media threads only through `logging`; without a root
# handler they vanish and a stalled stream gives no clue (a no-op after the first run).
logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

st.set_page_config(page_title="Facial emotion recognition", page_icon="🙂", layout="wide")
st.title("Facial emotion recognition")
st.caption(
    "**Responsible use.** The model estimates the *probability* of a visible facial expression in "
    "each frame; it does not know what anyone feels. Results are less reliable for some faces, "
    "poses and lighting. Do not use them to judge, screen or monitor people (hiring, policing, "
    "education, health, border control) or without their consent. Limits and measured accuracy: "
    "model card (`weights/MODEL_CARD.md`).")
if MODEL_CARD.is_file():
    with st.expander("Model card"):
        st.markdown(MODEL_CARD.read_text(encoding="utf-8"))

settings = render_sidebar()
live_tab, photo_tab, video_tab = st.tabs(["Live webcam", "Photo", "Video file"])
with live_tab:
    render_live_tab(settings)
with photo_tab:
    render_photo_tab(settings)
with video_tab:
    try:
        from fer.app.video_tab import render_video_tab
    except ModuleNotFoundError as e:
        if e.name != "fer.app.video_tab":
            st.error(f"Video analysis could not be loaded: {e}")
        else:
            st.info("Video analysis is not available")
    except ImportError as e:
        st.error(f"Video analysis could not be loaded: {e}")
    else:
        render_video_tab(settings)
