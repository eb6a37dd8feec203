"""The live loop, without a UI: frames in at camera rate, analysis in a worker process, overlays out.

Analysis runs in a process of its own (`worker`), fed the newest frame through shared memory, so
WebRTC decoding and encoding in the server's interpreter never wait for the models, and the
returned video keeps the camera's rate whatever the analysis costs. The worker measures its own
cost per stage and lowers its work when the CPU is short (`load`). `pool` bounds how many live
analyses a server runs at once; `overlay` draws the newest result, fading it as it ages.
"""
