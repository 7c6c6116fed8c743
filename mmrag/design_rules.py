"""Rule tables of the pipeline designer: keywords that reveal modalities, domains and constraints.

Kept apart from `mmrag.design` so the rules read as data. Every rule here follows the designer
skill (`prompts/designer_skill.md`), which explains why, from what this project measured.
"""

from __future__ import annotations

import re

# modality cue -> keywords (matched as whole-word prefixes, case-insensitive)
CUES: dict[str, tuple[str, ...]] = {
    "image": ("photo", "picture", "image", "selfie", "camera", "screenshot", "snapshot", "x-ray",
              "scan$", "scans$", "pics$", "jpeg", "jpg", "visual"),
    "sound": ("sound", "noise", "noisy", "audio", "recording", "rattl", "squeal", "humming", "knock",
              "ambient", "acoustic", "loud", "quiet", "whine", "grinding"),
    "speech": ("voice", "spoken", "speech", "phone call", "calls$", "dictat", "voicemail", "podcast", "interview",
               "narrat", "says", "verbal"),
    "video": ("video", "footage", "clip", "film", "movie", "webcam", "dashcam", "livestream"),
    "text": ("note", "review", "manual", "document", "text", "description", "catalog", "catalogue",
             "report", "guide", "ticket", "article", "history", "faq", "symptom", "chat$", "chats$"),
    "ocr": ("menu", "label", "receipt", "signs$", "signage", "nameplate", "serial", "handwrit", "prescription",
            "printed", "tags$", "screenshot", "invoice"),
}

QUERY_VERBS = ("upload", "attach", "send", "snap", "take", "records", "record a", "query", "ask",
               "submit", "points the", "holds up", "describes", "types", "speaks", "user")
KB_WORDS = ("knowledge base", "catalog", "catalogue", "database", "library", "archive", "index",
            "collection", "manuals", "history", "reviews", "corpus", "inventory", "guide")

# domain -> (keywords, entity noun, risk)
DOMAINS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "trip planning": (("trip", "travel", "hotel", "itinerar", "restaurant", "cafe", "city", "tourist",
                       "brunch", "museum"), "place", "low"),
    "medical triage": (("patient", "triage", "clinic", "doctor", "nurse", "wound", "rash", "skin",
                        "medical", "diagnos", "symptom", "lesion"), "case", "high"),
    "e-commerce": (("outfit", "shop", "product", "fashion", "clothes", "clothing", "dress", "buy",
                    "store", "sku", "wardrobe", "style"), "product", "medium"),
    "field service": (("technician", "engine", "repair", "machine", "pump", "field", "fault",
                       "maintenance", "compressor", "bearing", "parts$", "part$", "diagnose"), "machine", "medium"),
}

# soft constraints that are metadata, not semantics: phrase -> (filter expression, explanation)
CONSTRAINTS: dict[str, tuple[str, str]] = {
    "quiet": ("loudness_db < -40", "quietness is measured loudness (dBFS), not a semantic property"),
    "calm": ("loudness_db < -40", "calm rooms are measured by loudness"),
    "silent": ("loudness_db < -45", "silence is measured loudness"),
    "loud": ("loudness_db > -25", "loudness is measured, not embedded"),
    "noisy": ("loudness_db > -25", "noise level is measured, not embedded"),
}

# measurable properties with no filter field in the engine yet: phrase -> advice for the design notes
MEASURE: dict[str, str] = {
    "natural light": "brightness: compute mean luminance per photo/keyframe at ingestion and filter on it",
    "bright": "brightness: compute mean luminance per photo/keyframe at ingestion and filter on it",
    "dark": "brightness: compute mean luminance per photo/keyframe at ingestion and filter on it",
    "price": "price: keep it as structured metadata and filter, never embed numbers",
    "under": "numeric limits (price, size, age): structured metadata filters",
}

FINE_GRAINED = ("outfit", "fashion", "dress", "colour", "color", "pattern", "lesion", "rash",
                "wound", "skin", "part number", "model number", "texture", "crack", "corrosion")


def words(text: str) -> list[str]:
    return re.findall(r"[a-z][a-z\-]*", text.lower())


def has_cue(text: str, keys: tuple[str, ...]) -> list[str]:
    """Keywords of `keys` present in `text`: word-prefix match, exact word for keys ending in `$`,
    substring match for keys with a space or a hyphen."""
    low = text.lower()
    ws = words(text)
    found = []
    for k in keys:
        if " " in k or "-" in k:
            if k in low:
                found.append(k)
        elif k.endswith("$"):
            if k[:-1] in ws:
                found.append(k[:-1])
        elif any(w.startswith(k) for w in ws):
            found.append(k)
    return found


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]
