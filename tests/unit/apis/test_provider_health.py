"""`/v1/providers` reports the health of providers behind a router (llama-stack 0.7 files them all as
"Not Implemented"): the listing asks each one, and a failing or slow check is an error answer, not a crash."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from llama_stack.core.providers import ProviderImpl, ProviderImplConfig
from llama_stack_api import Api, HealthStatus

from llama_stack_argocd.apis.provider_health import install_provider_health
from llama_stack_argocd.provider import get_provider_spec
from tests.support.stack import ROOT


class _Provider:
    def __init__(self, api: Api, answer: object) -> None:
        self.__provider_spec__ = SimpleNamespace(api=api)
        self._answer = answer

    async def health(self) -> dict:
        if isinstance(self._answer, BaseException):
            raise self._answer
        return self._answer


def _router(**providers: _Provider) -> SimpleNamespace:
    # a router llama-stack builds: no health of its own per provider, its providers in a routing table
    return SimpleNamespace(__provider_spec__=SimpleNamespace(api=Api.inference),
                           routing_table=SimpleNamespace(impls_by_provider_id=providers))


def _listing(deps: dict) -> dict:
    import yaml
    from llama_stack.core.datatypes import StackConfig
    from llama_stack.core.stack import replace_env_vars

    get_provider_spec()  # registers our APIs, installs the hook as the server does
    install_provider_health()  # idempotent
    config = StackConfig(**replace_env_vars(yaml.safe_load((ROOT / "run.yaml").read_text())))
    impl = ProviderImpl(ProviderImplConfig(config=config), deps)
    listed = asyncio.run(impl.list_providers()).data
    return {(p.api, p.provider_id): p.health for p in listed}


def test_a_routed_provider_reports_its_own_health():
    deps = {Api.inference: _router(embedded=_Provider(Api.inference, {"status": HealthStatus.OK})),
            Api.tool_runtime: _router(argocd=_Provider(Api.tool_runtime,
                                                       {"status": HealthStatus.ERROR, "message": "no cluster"}))}
    health = _listing(deps)
    assert health[("inference", "embedded")]["status"] == HealthStatus.OK
    assert health[("tool_runtime", "argocd")] == {"status": HealthStatus.ERROR, "message": "no cluster"}


def test_a_failing_check_is_an_error_answer():
    deps = {Api.inference: _router(embedded=_Provider(Api.inference, RuntimeError("boom")))}
    health = _listing(deps)
    assert health[("inference", "embedded")]["status"] == HealthStatus.ERROR
    assert "boom" in health[("inference", "embedded")]["message"]
    # a provider nobody can ask keeps llama-stack's answer
    assert health[("files", "localfs")]["status"] == HealthStatus.NOT_IMPLEMENTED


def test_our_providers_answer_for_themselves():
    # what the server hands the listing: its internal implementations only, no router
    from llama_stack_argocd.apis.provider_health import _REPORTING, reports_health

    provider = reports_health(_Provider(Api.inference, {"status": HealthStatus.OK}))
    provider.__provider_id__ = "embedded"
    try:
        health = _listing({Api.inspect: SimpleNamespace()})
    finally:
        _REPORTING.remove(provider)
    assert health[("inference", "embedded")] == {"status": HealthStatus.OK}
