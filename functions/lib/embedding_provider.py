"""Text embeddings for semantic search: one interface, a local default and an OpenAI-compatible provider.

The vector index ``contentEmbeddings.by_embedding`` has a fixed width (``schema.EMBEDDING_DIMENSIONS``),
so every provider must return vectors of exactly ``EMBEDDING_DIMENSIONS`` floats, L2-normalised.

- ``LocalStaticEmbedder`` (the default) needs no network and no key: WordLlama's ``l2_supercat``
  static token embeddings (256 dimensions), whose weights and tokenizer ship inside the ``wordllama``
  wheel. A text's vector is the pooled, normalised embedding of its tokens, a real semantic model
  ("money back" lands near "refund policy"), loaded once per process in about 0.2 s.
- ``OpenAICompatibleEmbedder`` calls ``POST {base}/embeddings`` of any OpenAI-compatible service,
  asking for ``dimensions=EMBEDDING_DIMENSIONS`` (``text-embedding-3-*`` shorten their vectors on
  request) and refusing answers of another width rather than storing vectors the index cannot hold.

Deployment environment variables choose the provider (``opencom env set``):
``EMBEDDINGS_PROVIDER`` = ``local`` (default) or ``openai``; for ``openai``: ``EMBEDDINGS_API_KEY``
(or ``OPENAI_API_KEY``), ``EMBEDDINGS_BASE_URL`` (default ``https://api.openai.com/v1``) and
``EMBEDDINGS_MODEL`` (default ``text-embedding-3-small``).
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from .errors import INVALID_INPUT, fail

EMBEDDING_DIMENSIONS = 256
LOCAL_MODEL = "wordllama-l2-supercat-256"
DEFAULT_REMOTE_MODEL = "text-embedding-3-small"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
REQUEST_TIMEOUT_S = 30.0


class EmbeddingProvider(Protocol):
    """Turns texts into unit vectors of ``EMBEDDING_DIMENSIONS`` floats, one per text, in order."""

    model: str

    async def embed(self, texts: list[str]) -> list[list[float]]: ...


def _normalised(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else vector


class LocalStaticEmbedder:
    """The offline default: WordLlama's packaged static embeddings, shared by every call in the process."""

    model = LOCAL_MODEL
    _lock = threading.Lock()
    _loaded: Any = None

    @classmethod
    def _inference(cls) -> Any:
        with cls._lock:
            if cls._loaded is None:
                import wordllama  # imported lazily: numpy and tokenizers cost ~0.3 s at app load otherwise
                from wordllama import WordLlama

                # The wheel holds both files; pointing the cache at the package keeps loading offline
                # (WordLlama otherwise looks for the tokenizer in a per-user cache and downloads it).
                package = Path(wordllama.__file__).parent
                cls._loaded = WordLlama.load(
                    config="l2_supercat", dim=EMBEDDING_DIMENSIONS, cache_dir=package, disable_download=True
                )
            return cls._loaded

    def _embed_now(self, texts: list[str]) -> list[list[float]]:
        matrix = self._inference().embed(texts, norm=True)
        return [[float(x) for x in row] for row in matrix]

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return await asyncio.to_thread(self._embed_now, texts)


class OpenAICompatibleEmbedder:
    """``POST {base_url}/embeddings`` with a bearer key, asking for ``EMBEDDING_DIMENSIONS`` dimensions."""

    def __init__(self, api_key: str, model: str = DEFAULT_REMOTE_MODEL, base_url: str = DEFAULT_BASE_URL) -> None:
        self.api_key = api_key
        self.model = model
        self.base_url = base_url.rstrip("/")

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        body = {"model": self.model, "input": texts, "dimensions": EMBEDDING_DIMENSIONS}
        headers = {"Authorization": f"Bearer {self.api_key}"}
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        url = f"{self.base_url}/embeddings"
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, json=body, headers=headers) as response,
        ):
            if response.status != 200:
                detail = (await response.text())[:200]
                raise RuntimeError(f"Embeddings provider answered HTTP {response.status}: {detail}")
            payload = await response.json()
        rows = sorted(payload.get("data") or [], key=lambda row: row.get("index", 0))
        vectors = [row.get("embedding") for row in rows]
        if len(vectors) != len(texts):
            raise RuntimeError(f"Embeddings provider returned {len(vectors)} vectors for {len(texts)} texts")
        for vector in vectors:
            if not isinstance(vector, list) or len(vector) != EMBEDDING_DIMENSIONS:
                width = len(vector) if isinstance(vector, list) else "no"
                raise RuntimeError(
                    f"Embeddings provider returned {width} dimensions; the index holds {EMBEDDING_DIMENSIONS}"
                )
        return [_normalised([float(x) for x in vector]) for vector in vectors]


def provider_from_env(env: Mapping[str, str]) -> EmbeddingProvider:
    """The provider the deployment's environment variables select (see the module docstring).

    Content and queries must be embedded by the same model to be comparable, so the model is a
    deployment setting only, never a per-call choice.
    """
    choice = (env.get("EMBEDDINGS_PROVIDER") or "local").strip().lower()
    if choice == "local":
        return LocalStaticEmbedder()
    if choice == "openai":
        api_key = env.get("EMBEDDINGS_API_KEY") or env.get("OPENAI_API_KEY")
        if not api_key:
            fail(INVALID_INPUT, "EMBEDDINGS_PROVIDER=openai needs EMBEDDINGS_API_KEY or OPENAI_API_KEY")
        return OpenAICompatibleEmbedder(
            api_key,
            model=env.get("EMBEDDINGS_MODEL") or DEFAULT_REMOTE_MODEL,
            base_url=env.get("EMBEDDINGS_BASE_URL") or DEFAULT_BASE_URL,
        )
    fail(INVALID_INPUT, f"Unknown EMBEDDINGS_PROVIDER {choice!r}: use 'local' or 'openai'")
