"""The one rule for an upload the app will not open, said in full: Streamlit's own type filter
gave its reason only on hover (issue 23.7). The content is checked again before a decoder opens
the file (`fer.imageio.load_image`, `fer.video_guard`)."""

from __future__ import annotations

from collections.abc import Collection


def refused_upload(name: str, accepted: Collection[str], kinds: str) -> str | None:
    """The full reason `name` is not analysed, or None when its suffix is one of `accepted`
    (lower case, no dot); `kinds` names them for people, e.g. 'photos in JPG, PNG or WebP format'."""
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix in accepted:
        return None
    return (f"{name} was not analysed: only {kinds} can be used"
            + (f" (this is a .{suffix} file)." if suffix else "."))
