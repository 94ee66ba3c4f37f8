"""The one key policy for metric names: any class, column or config name -> a valid MLflow key.

Why a policy and not a regex at each call site: MLflow rejects a whole ``log_batch`` when one
key is invalid (a class called ``..`` used to cost every metric of a run), and a lossy
sanitiser silently merged ``a+b`` and ``a_b`` into one key. The rules here are:

* a name that MLflow accepts as it is stays as it is (Unicode letters included: ``größe``);
* any other name is cleaned (characters MLflow refuses -> ``_``) and gets a short hash of the
  original, so distinct names never share a key and the same name always gets the same key;
* a run that still meets two names with one key (a planted ``a_b_3f2a1c``) disambiguates the
  later one with the hash of its full key, deterministically;
* keys are capped at MLflow's 250 characters (SQL column width), again with a hash.

Every renaming is recorded by :class:`KeyMap`, which the run logs as ``tracking/key_map.json``.
"""
from __future__ import annotations

import hashlib
import posixpath
import re
from typing import Any

MAX_KEY = 250  # MLflow's MAX_ENTITY_KEY_LENGTH (a VARCHAR(250) column in SQL stores)
MAX_SEGMENT = 100
_SEGMENT_OK = re.compile(r"^[\w.\- :]+$")  # MLflow's allowed characters, without the slash
_BAD_CHAR = re.compile(r"[^\w.\- :]")


def _digest(text: str, n: int = 6) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:n]


def segment_ok(name: str) -> bool:
    """True when ``name`` can be one path segment of a key unchanged."""
    return (
        bool(_SEGMENT_OK.match(name))
        and not name.startswith("..")
        and name not in (".",)
        and name == name.strip()
        and len(name) <= MAX_SEGMENT
    )


def segment(name: Any) -> str:
    """One name (class, feature, column) as one key segment: kept if valid, else cleaned + hash.

    Injective in practice: a kept name contains no hash suffix it did not have, and a changed
    name carries the hash of the original, so ``a+b`` -> ``a_b_<hash>`` never meets ``a_b``.
    """
    text = str(name)
    if segment_ok(text):
        return text
    cleaned = _BAD_CHAR.sub("_", text).strip().lstrip(".")
    cleaned = re.sub(r"_{3,}", "__", cleaned)[: MAX_SEGMENT - 8] or "_"
    return f"{cleaned}_{_digest(text)}"


def safe(name: Any) -> str:
    """Backwards-compatible name for :func:`segment` (``components.quality.safe``)."""
    return segment(name)


def key_ok(key: str) -> bool:
    """MLflow's own rules for a metric/param key (characters, path-uniqueness, length)."""
    if not key or len(key) > MAX_KEY or _BAD_CHAR.sub("", key.replace("/", "")) != key.replace("/", ""):
        return False
    norm = posixpath.normpath(key)
    return norm == key and norm != "." and not norm.startswith("..") and not norm.startswith("/")


def encode_key(key: str) -> str:
    """A full key (``data/train_count/<class>``) made valid: each ``/`` part through ``segment``."""
    if key_ok(key):
        return key
    out = "/".join(segment(part) for part in str(key).split("/"))
    if len(out) > MAX_KEY:
        out = out[: MAX_KEY - 8].rstrip("/ .") + "_" + _digest(key)
    return out if key_ok(out) else f"key_{_digest(key, 16)}"


class KeyMap:
    """Raw key -> logged key for one run; unique and deterministic, renamings remembered."""

    def __init__(self) -> None:
        self.to_key: dict[str, str] = {}
        self.owner: dict[str, str] = {}  # logged key -> the raw key that has it
        self.renamed: dict[str, str] = {}

    def __call__(self, raw: str) -> str:
        raw = str(raw)
        known = self.to_key.get(raw)
        if known is not None:
            return known
        key = encode_key(raw)
        if self.owner.get(key, raw) != raw:  # a second name landing on a taken key
            key = encode_key(f"{key[: MAX_KEY - 12]}_{_digest(raw, 8)}")
        self.to_key[raw], self.owner[key] = key, raw
        if key != raw:
            self.renamed[raw] = key
        return key
