"""The Streamlit app's parts: sidebar settings, the live webcam tab, the photo tab and charts.

`streamlit_app.py` only wires these together, so each part can be tested and reused
(e.g. the video tab takes the same `AppSettings`).
"""
