"""The embeddings providers: the offline local model, the OpenAI-compatible client, selection, chunking."""

import itertools
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from aiohttp import web
from opencom_backend import Backend

from runtime import ConvexError

REPO = Path(__file__).resolve().parents[2]


def test_the_local_model_loads_with_no_network_and_an_empty_home(tmp_path: Path):
    script = textwrap.dedent(
        """
        import asyncio, socket, sys
        def refuse(*args, **kwargs):
            raise OSError("network is off in this test")
        socket.socket.connect = refuse
        socket.getaddrinfo = refuse
        sys.path.insert(0, sys.argv[1])
        from functions.lib.embedding_provider import LocalStaticEmbedder
        [vector] = asyncio.run(LocalStaticEmbedder().embed(["offline check"]))
        print(len(vector))
        """
    )
    env = {
        "HOME": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "HF_HUB_OFFLINE": "1",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-c", script, str(REPO)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "256"


async def test_local_vectors_are_unit_length_and_carry_meaning(backend: Backend):
    provider = backend.lib("embedding_provider")
    texts = ["How do I get a refund?", "Money back guarantee for returned items", "Our office dog is called Biscuit"]
    question, refund, dog = await provider.LocalStaticEmbedder().embed(texts)
    assert all(math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-4) for v in (question, refund, dog))

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(question, refund) > cosine(question, dog)
    assert await provider.LocalStaticEmbedder().embed([]) == []


async def test_schema_and_providers_agree_on_the_width(backend: Backend):
    schema_index = backend.executor.app.schema.tables["contentEmbeddings"].vector_indexes[0]
    assert schema_index.dimensions == backend.lib("embedding_provider").EMBEDDING_DIMENSIONS == 256


async def test_provider_selection_from_environment(backend: Backend):
    provider = backend.lib("embedding_provider")
    assert isinstance(provider.provider_from_env({}), provider.LocalStaticEmbedder)
    remote = provider.provider_from_env(
        {"EMBEDDINGS_PROVIDER": "openai", "OPENAI_API_KEY": "sk-test", "EMBEDDINGS_BASE_URL": "http://127.0.0.1:9/v1/"}
    )
    assert (remote.model, remote.base_url, remote.api_key) == (
        "text-embedding-3-small",
        "http://127.0.0.1:9/v1",
        "sk-test",
    )
    with pytest.raises(ConvexError) as missing_key:
        provider.provider_from_env({"EMBEDDINGS_PROVIDER": "openai"})
    assert missing_key.value.data["code"] == "INVALID_INPUT"
    with pytest.raises(ConvexError):
        provider.provider_from_env({"EMBEDDINGS_PROVIDER": "magic"})


async def test_openai_compatible_provider_over_http(backend: Backend, unused_tcp_port: int):
    provider = backend.lib("embedding_provider")
    seen: list[tuple[dict, str]] = []
    width = {"value": 256}

    async def embeddings(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append((body, request.headers["Authorization"]))
        if body["input"] == ["fail"]:
            return web.Response(status=500, text="upstream broke")
        rows = [{"index": i, "embedding": [float(i + 1)] * width["value"]} for i in range(len(body["input"]))]
        return web.json_response({"data": list(reversed(rows)), "model": body["model"]})

    app = web.Application()
    app.router.add_post("/v1/embeddings", embeddings)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    try:
        client = provider.OpenAICompatibleEmbedder(
            "sk-test", "text-embedding-3-large", f"http://127.0.0.1:{unused_tcp_port}/v1"
        )
        first, second = await client.embed(["a", "b"])
        assert seen[0] == (
            {"model": "text-embedding-3-large", "input": ["a", "b"], "dimensions": 256},
            "Bearer sk-test",
        )
        assert math.isclose(first[0], 1 / 16) and math.isclose(second[0], 1 / 16) and len(first) == 256
        with pytest.raises(RuntimeError, match="HTTP 500"):
            await client.embed(["fail"])
        width["value"] = 1536
        with pytest.raises(RuntimeError, match="1536 dimensions"):
            await client.embed(["too wide"])
    finally:
        await runner.cleanup()


async def test_chunks_snippets_and_hashes(backend: Backend):
    text = backend.lib("embedding_text")
    assert text.split_into_chunks("  short text \r\n") == ["short text"]
    paragraphs = "\n\n".join(f"Paragraph {n}. " + "word " * 150 for n in range(12))
    chunks = text.split_into_chunks(paragraphs)
    assert len(chunks) > 1 and all(len(chunk) <= text.CHUNK_MAX_CHARS for chunk in chunks)
    assert all(later[:100] in earlier for earlier, later in itertools.pairwise(chunks))  # consecutive chunks overlap
    assert all(chunk.endswith("word") for chunk in chunks)  # cut at paragraph ends, not mid-word
    assert "Paragraph 11." in chunks[-1]
    assert text.snippet_of("<p>Hello   <b>there</b></p>") == "Hello there"
    assert text.snippet_of("x" * 300) == "x" * 197 + "..."
    assert text.text_hash("m", "t", "c") != text.text_hash("other", "t", "c")
