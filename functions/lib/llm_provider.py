"""The language model behind the AI agent: any OpenAI-compatible chat-completions service.

Deployment environment variables configure it (``opencom env set``): ``LLM_BASE_URL`` (for
example ``https://api.openai.com/v1`` or a local server), ``LLM_API_KEY`` (or ``OPENAI_API_KEY``)
and optionally ``LLM_MODEL`` (else the workspace's model setting, without its ``provider/``
prefix). With neither a base URL nor a key there is no provider, and the AI agent hands every
conversation to a human instead of answering.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

DEFAULT_BASE_URL = "https://api.openai.com/v1"
REQUEST_TIMEOUT_S = 60.0
MAX_OUTPUT_TOKENS = 800


@dataclass(frozen=True)
class Completion:
    """What the model said, and the tokens it cost (when the service reports them)."""

    text: str
    tokens_used: float | None


class ChatProvider:
    """``POST {base_url}/chat/completions`` and ``GET {base_url}/models`` with an optional bearer key."""

    def __init__(self, base_url: str, api_key: str | None, model: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.model = model
        self.label = "openai" if self.base_url == DEFAULT_BASE_URL else "openai-compatible"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def model_for(self, configured: str) -> str:
        """The model to ask: ``LLM_MODEL``, else the workspace setting without its provider prefix."""
        return self.model or configured.split("/", 1)[-1]

    async def complete(self, model: str, messages: list[dict[str, str]]) -> Completion:
        """One chat completion; raises RuntimeError on any answer that is not a usable completion."""
        body = {"model": model, "messages": messages, "max_tokens": MAX_OUTPUT_TOKENS, "temperature": 0.2}
        payload = await self._request("POST", "/chat/completions", body)
        try:
            text = payload["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise RuntimeError("LLM provider answered without a completion") from None
        tokens = (payload.get("usage") or {}).get("total_tokens")
        return Completion(str(text).strip(), float(tokens) if isinstance(tokens, (int, float)) else None)

    async def list_models(self) -> list[str]:
        """The model ids the service offers."""
        payload = await self._request("GET", "/models", None)
        return [
            row["id"] for row in payload.get("data") or [] if isinstance(row, dict) and isinstance(row.get("id"), str)
        ]

    async def _request(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(method, f"{self.base_url}{path}", json=body, headers=self._headers()) as response,
        ):
            if response.status != 200:
                detail = (await response.text())[:200]
                raise RuntimeError(f"LLM provider answered HTTP {response.status}: {detail}")
            payload = await response.json(content_type=None)
        if not isinstance(payload, dict):
            raise TypeError("LLM provider answered with something other than a JSON object")
        return payload


def llm_from_env(env: Mapping[str, str]) -> ChatProvider | None:
    """The configured provider, or None when the deployment configures none."""
    base_url = (env.get("LLM_BASE_URL") or "").strip()
    api_key = (env.get("LLM_API_KEY") or env.get("OPENAI_API_KEY") or "").strip() or None
    if not base_url and not env.get("LLM_API_KEY"):
        return None
    return ChatProvider(base_url or DEFAULT_BASE_URL, api_key, (env.get("LLM_MODEL") or "").strip() or None)
