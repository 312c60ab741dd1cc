"""Real SDKs (openai, anthropic, mistralai, litellm) against a provider-shaped local server."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at import

import wattlm
from tests.integrations.llm_provider_server import OPTIONS, ProviderServer
from wattlm.integrations.llm_api import Impacts, compute_impacts, instrument, uninstrument
from wattlm.sensors.fake import FakeSensor
from wattlm.units import Provenance

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")
mistral_client = pytest.importorskip("mistralai.client")

MESSAGES = [{"role": "user", "content": "say hello to me"}]  # 4 words + 7 = 11 input tokens


@pytest.fixture
def server() -> Iterator[ProviderServer]:
    with ProviderServer() as s:
        yield s


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    from wattlm.integrations.llm_api import _impacts

    _impacts.compute_impacts.cache_clear()
    _impacts._model.cache_clear()
    yield
    uninstrument()
    import gc
    import warnings

    with warnings.catch_warnings():  # the tests' own SDK clients, left for the GC to close
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def _check(impacts: Impacts, model: str, input_tokens: int, output_tokens: int) -> None:
    expected = compute_impacts(impacts.provider, model, input_tokens, output_tokens)
    assert (impacts.input_tokens, impacts.output_tokens) == (input_tokens, output_tokens)
    for name in ("energy", "emissions", "embodied", "water"):
        value = getattr(impacts, name)
        assert value.provenance is Provenance.ESTIMATED
        assert value.low <= value.central <= value.high
        assert value == getattr(expected, name)


def test_impacts_follow_the_estimator_for_a_published_model() -> None:
    imp = compute_impacts("mistral", "mistral-small-2501", 11, 100)
    est = wattlm.estimate_inference(params=24e9, active_params=24e9, hardware="H100-SXM",
                                    batch_size=64, input_tokens=11, output_tokens=100,
                                    pue=1.18, region="EU")
    # published size: low = central = high parameters, so the estimator's own range is kept
    assert imp.energy.central == pytest.approx(est.energy_per_request_j.central, rel=1e-12)
    assert imp.energy.low == pytest.approx(est.energy_per_request_j.low, rel=1e-12)
    assert imp.assumptions["region"] == "EU" and imp.warnings == ()
    # emissions: IT energy x PUE x EU intensity (213 g/kWh, Ember 2024)
    it_kwh = est.energy_per_request_j.central / 1.18 / 3.6e6
    assert imp.emissions.central == pytest.approx(it_kwh * 1.18 * 213, rel=0.01)


def test_openai_sync_response_has_impacts(server: ProviderServer) -> None:
    client = instrument(openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0))
    response = client.chat.completions.create(model="gpt-4o-mini-2024-07-18", messages=MESSAGES,
                                              max_tokens=12)
    assert response.choices[0].message.content.startswith("hi")
    _check(response.impacts, "gpt-4o-mini-2024-07-18", 11, 12)
    assert response.impacts.model == "gpt-4o-mini" and response.impacts.warnings == ()
    assert "impacts" not in response.model_dump()  # the user's serialisation is unchanged


def test_openai_stream_and_async(server: ProviderServer) -> None:
    instrument()  # every installed SDK, every client
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=6,
                                            stream=True, stream_options={"include_usage": True})
    assert isinstance(stream, openai.Stream)
    chunks = list(stream)
    assert chunks[-1].usage.completion_tokens == 6
    _check(stream.impacts, "gpt-4o", 11, 6)
    assert chunks[-1].impacts is stream.impacts

    async def go() -> tuple[object, object]:
        aclient = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
        whole = await aclient.chat.completions.create(model="gpt-4o", messages=MESSAGES,
                                                      max_tokens=3)
        astream = await aclient.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, max_tokens=4, stream=True,
            stream_options={"include_usage": True})
        async for _ in astream:
            pass
        await aclient.close()
        return whole, astream

    whole, astream = asyncio.run(go())
    _check(whole.impacts, "gpt-4o", 11, 3)
    _check(astream.impacts, "gpt-4o", 11, 4)


def test_openai_responses_api(server: ProviderServer) -> None:
    client = instrument(openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0))
    response = client.responses.create(model="gpt-4o", input="say hello to me",
                                       max_output_tokens=8)
    assert response.output_text.startswith("hi")
    _check(response.impacts, "gpt-4o", 11, 8)
    stream = client.responses.create(model="gpt-4o", input="say hello to me",
                                     max_output_tokens=3, stream=True)
    events = list(stream)
    assert events[-1].type == "response.completed" and events[-1].impacts is stream.impacts
    _check(stream.impacts, "gpt-4o", 11, 3)


def test_stream_without_usage_counts_chunks(server: ProviderServer) -> None:
    OPTIONS["usage"] = False
    client = instrument(openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0))
    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=5,
                                            stream=True)
    for _ in stream:
        pass
    assert stream.impacts.output_tokens == 5 and stream.impacts.input_tokens == 0
    assert any(w.startswith("W624") for w in stream.impacts.warnings)


def test_anthropic_sync_stream_async(server: ProviderServer) -> None:
    client = instrument(anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0))
    message = client.messages.create(model="claude-3-5-sonnet-20241022", max_tokens=9,
                                     messages=MESSAGES)
    _check(message.impacts, "claude-3-5-sonnet-20241022", 11, 9)
    assert message.impacts.provider == "anthropic"
    assert message.impacts.assumptions["pue"] == 1.14
    stream = client.messages.create(model="claude-3-5-sonnet-20241022", max_tokens=4,
                                    messages=MESSAGES, stream=True)
    events = list(stream)
    assert events[-2].type == "message_delta" and events[-2].impacts is stream.impacts
    _check(stream.impacts, "claude-3-5-sonnet-20241022", 11, 4)

    with client.messages.stream(model="claude-3-5-sonnet-20241022", max_tokens=5,
                                messages=MESSAGES) as helper:
        final = helper.get_final_message()
    assert final.usage.output_tokens == 5
    _check(helper.impacts, "claude-3-5-sonnet-20241022", 11, 5)

    async def go() -> tuple[object, object]:
        aclient = instrument(anthropic.AsyncAnthropic(base_url=server.url, api_key="k",
                                                      max_retries=0))
        out = await aclient.messages.create(model="claude-3-5-sonnet-20241022", max_tokens=2,
                                            messages=MESSAGES)
        async with aclient.messages.stream(model="claude-3-5-sonnet-20241022", max_tokens=3,
                                           messages=MESSAGES) as astream:
            async for _ in astream:
                pass
        await aclient.close()
        return out, astream

    out, astream = asyncio.run(go())
    _check(out.impacts, "claude-3-5-sonnet-20241022", 11, 2)
    _check(astream.impacts, "claude-3-5-sonnet-20241022", 11, 3)


def test_mistral_sync_stream_async(server: ProviderServer) -> None:
    client = instrument(mistral_client.Mistral(api_key="k", server_url=server.url))
    response = client.chat.complete(model="mistral-small-latest", messages=MESSAGES,
                                    max_tokens=7)
    _check(response.impacts, "mistral-small-latest", 11, 7)
    assert response.impacts.model == "mistral-small-2501"
    stream = client.chat.stream(model="mistral-small-latest", messages=MESSAGES, max_tokens=3)
    for _ in stream:
        pass
    _check(stream.impacts, "mistral-small-latest", 11, 3)

    async def go() -> object:
        return await client.chat.complete_async(model="open-mixtral-8x7b", messages=MESSAGES,
                                                max_tokens=2)

    result = asyncio.run(go())
    _check(result.impacts, "open-mixtral-8x7b", 11, 2)
    assert result.impacts.assumptions["active_params"]["central"] == pytest.approx(12.9e9)


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")
def test_litellm_completion(server: ProviderServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    litellm = pytest.importorskip("litellm")
    instrument(litellm)
    response = litellm.completion(model="openai/gpt-4o-mini", messages=MESSAGES, max_tokens=4,
                                  api_base=server.url + "/v1", api_key="k")
    _check(response.impacts, "gpt-4o-mini", 11, 4)
    assert response.impacts.provider == "openai"


LITELLM_STREAM_AND_ASYNC = """
import asyncio, json, sys, warnings
warnings.simplefilter("ignore")
import litellm
from wattlm.integrations.llm_api import instrument
instrument(litellm)
url, messages = sys.argv[1], [{"role": "user", "content": "say hello to me"}]
stream = litellm.completion(model="openai/gpt-4o-mini", messages=messages, max_tokens=3,
                            api_base=url, api_key="k", stream=True,
                            stream_options={"include_usage": True})
for _ in stream:
    pass
whole = asyncio.run(litellm.acompletion(model="openai/gpt-4o", messages=messages,
                                        max_tokens=2, api_base=url, api_key="k"))
print(json.dumps([stream.impacts.to_dict(), whole.impacts.to_dict()]))
"""


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")
def test_litellm_stream_and_async(server: ProviderServer) -> None:
    # in a child process: litellm's streaming leaves an event loop of its own unclosed at exit
    import json
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-c", LITELLM_STREAM_AND_ASYNC, server.url + "/v1"],
                         capture_output=True, text=True, env=env, timeout=120, check=True)
    streamed, whole = json.loads(out.stdout.strip().splitlines()[-1])
    for got, model, tokens in ((streamed, "gpt-4o-mini", 3), (whole, "gpt-4o", 2)):
        expected = compute_impacts("openai", model, 11, tokens)
        assert (got["input_tokens"], got["output_tokens"]) == (11, tokens)
        assert got["energy_j"] == expected.energy.to_dict()
        assert got["provider"] == "openai"


def test_unknown_model_warns_with_did_you_mean_and_still_works(server: ProviderServer) -> None:
    client = instrument(openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0))
    with pytest.warns(wattlm.WattlmWarning, match="did you mean gpt-4o"):
        response = client.chat.completions.create(model="gpt-4oo", messages=MESSAGES,
                                                  max_tokens=3)
    assert response.choices[0].message.content
    assert response.impacts.model is None
    assert any("W621" in w and "did you mean" in w for w in response.impacts.warnings)
    assert response.impacts.energy.spread > 100  # the wide range, not a silent default


def test_a_failure_inside_wattlm_leaves_the_response_unchanged(server: ProviderServer) -> None:
    OPTIONS["completion_tokens"] = -3  # a broken usage block from the provider
    client = instrument(openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0))
    with pytest.warns(wattlm.WattlmWarning, match="W623"):
        response = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert response.choices[0].message.content.startswith("hi")
    assert not hasattr(response, "impacts")


def test_the_users_errors_pass_through(server: ProviderServer) -> None:
    client = instrument(openai.OpenAI(base_url=server.url + "/nowhere", api_key="k",
                                      max_retries=0))
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)


def test_calls_inside_track_are_an_api_device(server: ProviderServer,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    client = instrument(openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0))
    with wattlm.track(region="FR", sensors=[FakeSensor("gpu0", power_w=50.0)]) as run:
        first = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=5)
        second = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=5)
    record = run.result
    api = next(d for d in record.devices if d.kind == "api")
    it_j = (first.impacts.energy.central + second.impacts.energy.central) / 1.18
    assert api.energy_j == pytest.approx(it_j, rel=1e-9)
    local = next(d for d in record.devices if d.name == "gpu0").energy_j
    assert record.energy_j == pytest.approx(local + it_j, rel=1e-9)
    assert record.provenance is Provenance.ESTIMATED
    assert record.extra["api"]["calls"] == 2
    with wattlm.open_store() as store:
        stored = store.get_run(record.id)
    assert any(d.kind == "api" for d in stored.devices)
    assert stored.extra["api"]["models"] == {"openai:gpt-4o": 2}
    from wattlm.cli.main import main

    capsys.readouterr()
    assert main(["show", str(record.id)]) == 0
    shown = capsys.readouterr().out
    assert any(line.split()[:2] == ["api", "api"] and "estimated" in line
               for line in shown.splitlines())


def test_instrument_refuses_other_objects() -> None:
    with pytest.raises(wattlm.WattlmError, match="instrument\\(\\) supports clients of"):
        instrument(object())


def test_no_sdk_is_imported_by_import_wattlm() -> None:
    import subprocess
    import sys

    code = ("import sys, wattlm; bad = [m for m in ('httpx', 'openai', 'anthropic', "
            "'mistralai', 'litellm') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ), check=True).stdout.strip()
    assert out == "[]"
