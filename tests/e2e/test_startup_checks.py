"""Start-up refuses a distribution whose parts do not fit, naming what to change, instead of failing on the first
question: the Agents and Lightspeed APIs run on the agent core that `inline::argocd-responses` hosts."""

from __future__ import annotations

import pytest
import yaml

from tests.support.stack import ROOT


def test_front_doors_without_the_argocd_responses_provider_refuse_to_start(tmp_path, stack_with):
    config = yaml.safe_load((ROOT / "run.yaml").read_text())
    responses = config["providers"]["responses"][0]
    responses.update(provider_type="inline::builtin", config={"persistence": responses["config"]["persistence"]})
    responses.pop("module")
    template = tmp_path / "builtin-responses.yaml"
    template.write_text(yaml.safe_dump(config, sort_keys=False))
    with pytest.raises(RuntimeError) as failed:
        stack_with(template, model=None, env={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "OPENAI_API_KEY": "sk-test"},
                   timeout=60)
    log = str(failed.value)
    assert "exited" in log
    assert "API runs on the Argo CD agent core" in log and "inline::argocd-responses" in log
