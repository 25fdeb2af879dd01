"""The ``subsumption`` agent: generic masking and template subsumption for log parsing."""

from __future__ import annotations

import pytest

from rlog_env.agents.base import Observation
from rlog_env.agents.baselines import BUILTIN_AGENTS, HeuristicAgent, SubsumptionParser
from rlog_env.agents.baselines.subsumption import mask, subsumes
from rlog_env.tasks import NO_TAGS, Sample, parse_completion


@pytest.mark.parametrize("message, template", [
    # numbers, addresses, ids: every piece holding a digit; delimiters and spacing kept
    ("Received block blk_-1608999687919862906 of size 91178 from /10.250.10.6",
     "Received block <*> of size <*> from <*>"),
    ("release:lock=189667585, flg=0x0, tag=\"AudioMix\"", "release:lock=<*>, flg=<*>, tag=\"AudioMix\""),
    # a date, an empty value standing alone, a host name
    ("connection from 222.33.90.199 () at Mon Jun 20 03:40:59 2005", "connection from <*> (<*>) at <*>"),
    ("rhost=csnsu.nsuok.edu  user=root", "rhost=<*>  user=root"),
    # a URL or path with its query, a size with its unit, a list of any length
    ('10.11.10.1 "GET /v2/abc/servers/detail?all_tenants=True HTTP/1.1" status: 200',
     '<*> "GET <*>" status: <*>'),
    ("estimated size 93.0 B, free 317.1 KB", "estimated size <*>, free <*>"),
    ("data source name an14 an15 an16 an17", "data source name <*>"),
    ("mask=ffffffff", "mask=<*>"),
    ("Instance spawned successfully.", "Instance spawned successfully."),
])
def test_masking_rules(message, template):
    assert mask(message)[0] == template


def test_subsumption_needs_a_constant_frame():
    assert subsumes("synchronized to <*>, stratum <*>".split(" "), "synchronized to LOCAL(<*>), stratum <*>".split(" "))
    assert not subsumes("<*> <*>".split(" "), "a b".split(" "))  # no constant frame: subsumes nothing
    assert not subsumes("VM <*> now".split(" "), "VM up later".split(" "))  # a constant differs


def _obs(message: str, domain: str = "ntp") -> Observation:
    return Observation(prompt=message, messages=(), task="log_parsing", logs=message, domain=domain)


def _answer(agent, message: str, domain: str = "ntp") -> str:
    return parse_completion(agent.act([_obs(message, domain)])[0], agent.reasoning).answer


def test_a_fitted_template_subsumes_a_rarer_spelling_and_act_changes_nothing():
    lines = ["synchronized to 10.100.20.250, stratum 3"] * 5 + ["synchronized to LOCAL(0), stratum 10"]
    agent = SubsumptionParser(reasoning=NO_TAGS).fit(
        [Sample(task="log_parsing", domain="ntp", logs=line, reference="") for line in lines])
    before = dict(agent.templates_["ntp"].final)
    assert _answer(agent, "synchronized to LOCAL(1), stratum 9") == "synchronized to <*>, stratum <*>"
    assert _answer(agent, "synchronized to LOCAL(1), stratum 9", "other") == "synchronized to LOCAL(<*>), stratum <*>"
    assert agent.templates_["ntp"].final == before
    completion = SubsumptionParser().fit([]).act([_obs(lines[-1])])[0]
    assert "Step 1" in completion and parse_completion(completion).answer == "synchronized to LOCAL(<*>), stratum <*>"


def test_the_subsumption_agent_is_the_heuristic_agent_with_the_parser():
    agent = BUILTIN_AGENTS["subsumption"]()
    assert isinstance(agent, HeuristicAgent) and agent.name == "subsumption"
    assert agent.baselines == {"template": SubsumptionParser}
    assert BUILTIN_AGENTS["heuristic"]().baselines is None  # heuristic keeps Drain
