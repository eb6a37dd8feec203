"""Facial emotion recognition in the browser: live webcam, photos and videos.

Run with `streamlit run streamlit_app.py`; the parts live in `fer/app/`.
"""

import logging

import streamlit as st

from fer.app.layout import compact_page
from fer.app.live import render_live_tab
from fer.app.photo import render_photo_tab
from fer.app.sidebar import render_sidebar

INTRO = ("Shows how likely seven facial expressions (happy, sad, angry...) are in every face: live "
         "from your camera, in a photo or in a video.")

# streamlit-webrtc reports errors in its media threads only through `logging`; without a root
# handler they vanish and a stalled stream gives no clue (a no-op after the first run).
logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

st.set_page_config(page_title="Facial emotion recognition", page_icon="🙂", layout="wide")
compact_page()
st.title("Facial emotion recognition")
st.markdown(INTRO)

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
