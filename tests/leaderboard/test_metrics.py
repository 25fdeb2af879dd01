"""The field's split-level metrics: hand-computed cases, and logpai's own values for Drain.

The golden test feeds ``reference/drain_predictions.tsv`` (logparser's Drain on the LogHub 2k
samples) to :func:`parsing_metrics` and checks every cell of ``reference/drain_metrics.tsv``:
GA against the original ground truth (grouped by EventId, as logparser's evaluator does) and
GA, FGA, PA, FTA against Loghub-2.0's corrected ground truth (grouped by template string).
"""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rlog_env.leaderboard.metrics import (
    MeanBootstrap,
    PairBootstrap,
    anomaly_metrics,
    anomaly_metrics_of_pairs,
    bootstrap_ci,
    bootstrap_key,
    bootstrap_metric,
    parsing_metrics,
    parsing_metrics_of_pairs,
    poisson_weights,
    text_metrics,
)

# ---------------------------------------------------------------------------------------------
# Log parsing: hand-computed cases
# ---------------------------------------------------------------------------------------------


def test_parsing_hand_case_all_four_metrics():
    truth = ["a <*>", "a <*>", "b <*>", "b <*>", "c", "d"]
    pred = ["a <*>", "a <*>", "b <*>", "b <*>", "b <*>", "d x"]
    m = parsing_metrics(pred, truth)
    # True groups: a{0,1} b{2,3} c{4} d{5}; predicted groups: "a <*>"{0,1} "b <*>"{2,3,4} "d x"{5}.
    # GA: a{0,1} == {0,1} right (2 msgs); b{2,3} != {2,3,4}; c{4} != {2,3,4}; d{5} == {5} right
    #     (1 msg) -> GA = 3/6 = 0.5
    assert m["GA"] == pytest.approx(0.5)
    # FGA: k = 2 correct groups (a, d); PGA = 2/3 predicted templates, RGA = 2/4 true groups;
    #      FGA = 2*(2/3)*(1/2) / (2/3 + 1/2) = (2/3) / (7/6) = 4/7
    assert m["PGA"] == pytest.approx(2 / 3)
    assert m["RGA"] == pytest.approx(1 / 2)
    assert m["FGA"] == pytest.approx(4 / 7)
    # PA: strings equal for messages 0,1,2,3; 4 ("b <*>" vs "c") and 5 ("d x" vs "d") wrong
    #     -> PA = 4/6 = 2/3
    assert m["PA"] == pytest.approx(2 / 3)
    # FTA: "a <*>" covers truths {"a <*>"} == itself -> right; "b <*>" covers {"b <*>", "c"} ->
    #      wrong; "d x" covers {"d"} but "d x" != "d" -> wrong. correct = 1;
    #      PTA = 1/3, RTA = 1/4, FTA = 2*(1/12) / (7/12) = 2/7
    assert m["PTA"] == pytest.approx(1 / 3)
    assert m["RTA"] == pytest.approx(1 / 4)
    assert m["FTA"] == pytest.approx(2 / 7)
    assert (m["messages"], m["predicted_templates"], m["true_templates"]) == (6, 3, 4)


def test_parsing_perfect_and_collapsed():
    truth = ["x <*>", "y", "x <*>", "z"]
    m = parsing_metrics(truth, truth)
    assert (m["GA"], m["FGA"], m["PA"], m["FTA"]) == (1.0, 1.0, 1.0, 1.0)
    # Everything in one predicted group "<*>": no true group is exactly {0,1,2,3}
    # -> GA = 0, k = 0 -> FGA = 0; no string equal -> PA = 0; "<*>" covers 3 truths -> FTA = 0.
    m = parsing_metrics(["<*>"] * 4, truth)
    assert (m["GA"], m["FGA"], m["PA"], m["FTA"]) == (0.0, 0.0, 0.0, 0.0)


def test_parsing_ga_is_about_groups_not_strings():
    # Right grouping, wrong strings: every true group is predicted exactly -> GA = FGA = 1,
    # while no predicted string equals its truth -> PA = 0 and FTA = 0.
    truth = ["open <*>", "open <*>", "close <*>"]
    pred = ["open file <*>", "open file <*>", "closing"]
    m = parsing_metrics(pred, truth)
    assert (m["GA"], m["FGA"], m["PA"], m["FTA"]) == (1.0, 1.0, 0.0, 0.0)


def test_parsing_fta_counts_a_template_covering_part_of_its_true_group():
    # Loghub-2.0's FTA: a predicted template is right when all its messages have one true
    # template equal to it, even if other messages of that true group went elsewhere.
    truth = ["t", "t", "t"]
    pred = ["t", "t", "u"]
    m = parsing_metrics(pred, truth)
    # GA: true group t{0,1,2}; message 0's predicted group "t" is {0,1} != {0,1,2} -> GA = 0/3
    assert m["GA"] == 0.0 and m["FGA"] == 0.0
    # PA: messages 0, 1 right -> 2/3
    assert m["PA"] == pytest.approx(2 / 3)
    # FTA: "t" covers {t} == {"t"} right; "u" covers {t} != {"u"} wrong. PTA = 1/2, RTA = 1/1,
    #      FTA = 2*(1/2)*1 / (3/2) = 2/3
    assert m["FTA"] == pytest.approx(2 / 3)


def test_parsing_truth_groups_key_ga_like_logparser():
    # Two EventIds sharing one template string (logparser keys truth by EventId).
    truth = ["t", "t", "t"]
    groups = ["E1", "E1", "E2"]
    pred = ["t", "t", "u"]
    by_id = parsing_metrics(pred, truth, truth_groups=groups)
    # By EventId: E1{0,1} predicted "t" = {0,1} right (2 msgs); E2{2} predicted "u" = {2} right
    # (1 msg) -> GA = 3/3 = 1; k = 2, PGA = 2/2, RGA = 2/2 -> FGA = 1.
    assert by_id["GA"] == 1.0 and by_id["FGA"] == 1.0
    # By template string (Loghub-2.0): one group t{0,1,2}, split -> GA = 0.
    assert parsing_metrics(pred, truth)["GA"] == 0.0
    # PA and FTA always compare strings: the same as without truth_groups.
    assert by_id["PA"] == pytest.approx(2 / 3) and by_id["FTA"] == pytest.approx(2 / 3)


def test_parsing_unlabelled_and_missing():
    truth = ["a", "a", None, "b"]
    pred = ["a", "a", "a", None]
    m = parsing_metrics(pred, truth)
    # Message 2 has no truth: GA/FGA/FTA use messages 0, 1, 3 only.
    # GA: a{0,1} predicted "a" over labelled messages = {0,1} right; b{3} predicted "" = {3}
    #     right -> GA = 3/3 = 1 (message 2's "a" does not count against group a).
    assert m["GA"] == 1.0 and m["FGA"] == 1.0
    # PA keeps every message in the denominator: 0 and 1 right -> 2/4.
    assert m["PA"] == pytest.approx(0.5)
    # FTA: "a" covers {a} right; "" (the missing answer) covers {b} wrong -> PTA 1/2, RTA 1/2,
    #      FTA = 1/2.
    assert m["FTA"] == pytest.approx(0.5)
    # A None key in truth_groups leaves that message out of GA only.
    m = parsing_metrics(["a", "b"], ["a", "a"], truth_groups=["E1", None])
    assert m["GA"] == 1.0  # E1{0} predicted "a" = {0}
    assert m["PA"] == 0.5


def test_parsing_compares_strings_exactly():
    # No stripping or whitespace folding, like the reference evaluators.
    m = parsing_metrics(["a <*> ", "a  <*>"], ["a <*>", "a <*>"])
    assert m["PA"] == 0.0 and m["FTA"] == 0.0
    assert m["GA"] == 0.0  # the true group {0,1} is split in two predicted groups


def test_parsing_rejects_bad_input():
    with pytest.raises(ValueError, match="same length"):
        parsing_metrics(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="at least one"):
        parsing_metrics([], [])
    with pytest.raises(ValueError, match="truth_groups"):
        parsing_metrics(["a"], ["a"], truth_groups=["E1", "E2"])


# ---------------------------------------------------------------------------------------------
# Log parsing: logpai's own values for Drain
# ---------------------------------------------------------------------------------------------

# The TSV's systems, and the LogHub systems that the data README says are not copied here.
DRAIN_SYSTEMS = ["HDFS", "Hadoop", "Spark", "Zookeeper", "BGL", "HPC", "Thunderbird", "Windows",
                 "Linux", "Android", "Apache", "OpenStack"]
DOCUMENTED_ABSENT = {"HealthApp", "Mac", "OpenSSH", "Proxifier"}
NO_LOGHUB2_CORRECTED = {"Android", "Windows"}  # reference/README.md: no corrected set there
CORRECTED_METRICS = ("GA", "FGA", "PA", "FTA")


def _read_rows(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def _original(data_dir: Path, system: str) -> Path:
    return data_dir / "loghub" / system / f"{system}_2k.log_structured.csv"


def _corrected(data_dir: Path, system: str) -> Path:
    return data_dir / "loghub2_2k_corrected" / system / f"{system}_2k.log_structured_corrected.csv"


@pytest.fixture(scope="module")
def drain_reference(data_dir):
    ref = data_dir / "reference"
    for name in ("drain_predictions.tsv", "drain_metrics.tsv"):
        if not (ref / name).is_file():
            pytest.fail(f"missing {ref / name}: RLOG_DATA_DIR must be laid out like shared/data")
    predictions: dict[str, dict[int, str]] = {}
    for row in _read_rows(ref / "drain_predictions.tsv", "\t"):
        predictions.setdefault(row["system"], {})[int(row["LineId"])] = row["predicted_template"]
    expected = {row["system"]: row for row in _read_rows(ref / "drain_metrics.tsv", "\t")}
    return predictions, expected


def _aligned(predictions: dict[int, str], truth_path: Path) -> tuple[list, list, list]:
    truth = {int(row["LineId"]): row for row in _read_rows(truth_path)}
    assert sorted(truth) == sorted(predictions), f"LineIds of {truth_path} differ from predictions"
    ids = sorted(truth)
    return ([predictions[i] for i in ids], [truth[i]["EventTemplate"] for i in ids],
            [truth[i]["EventId"] for i in ids])


def test_drain_reference_covers_every_present_system(data_dir, drain_reference):
    predictions, expected = drain_reference
    assert list(expected) == DRAIN_SYSTEMS
    assert set(predictions) == set(DRAIN_SYSTEMS)
    # The LogHub systems the manifest lists, and which of them are absent here: exactly the
    # documented ones, none of which the reference TSV needs.
    listed = set()
    with open(data_dir / "MANIFEST.tsv", encoding="utf-8") as handle:
        for line in handle:
            path = line.split("\t", 1)[0]
            parts = path.split("/")
            if (len(parts) == 3 and parts[0] == "loghub"
                    and parts[2] == f"{parts[1]}_2k.log_structured.csv"):
                listed.add(parts[1])
    absent = {s for s in listed if not _original(data_dir, s).is_file()}
    assert absent == DOCUMENTED_ABSENT
    assert set(DRAIN_SYSTEMS) == listed - absent
    # Corrected cells are blank exactly where Loghub-2.0 has no corrected set.
    for system, row in expected.items():
        blank = {row[f"{k}_corrected"].strip() == "" for k in CORRECTED_METRICS}
        assert blank == {system in NO_LOGHUB2_CORRECTED}, system
        assert _corrected(data_dir, system).is_file() == (system not in NO_LOGHUB2_CORRECTED)


@pytest.mark.parametrize("system", DRAIN_SYSTEMS)
def test_drain_reference_values(data_dir, drain_reference, system):
    predictions, expected = drain_reference
    row = expected[system]
    if system in DOCUMENTED_ABSENT:  # pragma: no cover - none of the TSV's systems is absent
        pytest.skip(f"{system} is documented as not copied into shared/data")
    checked = 0
    # GA against the original ground truth, truth grouped by EventId (logparser's evaluator).
    pred, truth, event_ids = _aligned(predictions[system], _original(data_dir, system))
    m = parsing_metrics(pred, truth, truth_groups=event_ids)
    assert f"{m['GA']:.6f}" == row["GA_original"], (system, "GA_original", m["GA"])
    checked += 1
    # GA, FGA, PA, FTA against Loghub-2.0's corrected truth, grouped by template string.
    if system not in NO_LOGHUB2_CORRECTED:
        pred, truth, _ = _aligned(predictions[system], _corrected(data_dir, system))
        m = parsing_metrics(pred, truth)
        for key in CORRECTED_METRICS:
            assert f"{m[key]:.6f}" == row[f"{key}_corrected"], (system, key, m[key])
            checked += 1
    assert checked == (1 if system in NO_LOGHUB2_CORRECTED else 5)


# ---------------------------------------------------------------------------------------------
# Anomaly detection
# ---------------------------------------------------------------------------------------------


def test_anomaly_hand_case_with_invalid_answers():
    pred = ["abnormal", "abnormal", "normal", "normal", "maybe", None]
    true = ["abnormal", "normal", "abnormal", "normal", "abnormal", "normal"]
    m = anomaly_metrics(pred, true)
    # tp: msg 0; fp: msg 1; fn: msg 2 (said normal) and msg 4 (invalid, counts as not abnormal);
    # tn: msg 3; msg 5 (invalid on a normal message) is neither a false alarm nor a tn.
    assert (m["tp"], m["fp"], m["fn"], m["tn"], m["invalid"]) == (1, 1, 2, 1, 2)
    # precision = 1/(1+1) = 1/2; recall = 1/(1+2) = 1/3; F1 = 2*(1/6) / (5/6) = 2/5
    assert m["precision"] == pytest.approx(1 / 2)
    assert m["recall"] == pytest.approx(1 / 3)
    assert m["F1"] == pytest.approx(2 / 5)
    # accuracy: msgs 0 and 3 right, both invalid answers wrong -> 2/6
    assert m["accuracy"] == pytest.approx(1 / 3)


def test_anomaly_labels_are_case_and_space_insensitive():
    m = anomaly_metrics([" Abnormal\n", "NORMAL"], ["abnormal", " Normal "])
    assert (m["precision"], m["recall"], m["F1"], m["accuracy"]) == (1.0, 1.0, 1.0, 1.0)


def test_anomaly_zero_divisions():
    # Always "normal": no predicted positive -> precision 0.0 (not NaN); recall 0/2; F1 0.0;
    # accuracy = the 3 normal messages of 5 = 0.6.
    m = anomaly_metrics(["normal"] * 5, ["abnormal", "abnormal", "normal", "normal", "normal"])
    assert (m["precision"], m["recall"], m["F1"]) == (0.0, 0.0, 0.0)
    assert m["accuracy"] == pytest.approx(0.6)
    # No abnormal message at all and none predicted: precision, recall, F1 all 0.0; accuracy 1.
    m = anomaly_metrics(["normal", "normal"], ["normal", "normal"])
    assert (m["precision"], m["recall"], m["F1"], m["accuracy"]) == (0.0, 0.0, 0.0, 1.0)
    # Only false alarms: precision 0/2, recall undefined (no positive) -> 0.0.
    m = anomaly_metrics(["abnormal", "abnormal"], ["normal", "normal"])
    assert (m["precision"], m["recall"], m["F1"], m["accuracy"]) == (0.0, 0.0, 0.0, 0.0)


def test_anomaly_rejects_bad_input():
    with pytest.raises(ValueError, match="true label"):
        anomaly_metrics(["normal"], ["weird"])
    with pytest.raises(ValueError, match="same length"):
        anomaly_metrics(["normal"], [])


# ---------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def eval_extra():
    """The text metrics need the optional extra ``eval`` (sacrebleu, rouge-score)."""
    pytest.importorskip("sacrebleu", reason="needs the eval extra: pip install 'rlog_env[eval]'")
    pytest.importorskip("rouge_score", reason="needs the eval extra: pip install 'rlog_env[eval]'")


def test_text_identical_is_100(eval_extra):
    texts = ["the disk on node 7 is full", "restart the datanode service after cleaning up"]
    m = text_metrics(texts, texts)
    for key in ("bleu4", "rouge1", "rouge2", "rougeL"):
        assert m[key] == pytest.approx(100.0), key


def test_text_hand_case_single_pair(eval_extra):
    m = text_metrics(["the cat sat on the mat"], ["the cat is on the mat"])
    # BLEU (13a tokens = words here). Matches / hypothesis n-grams:
    #   1-grams: the, the, cat, on, mat = 5/6; 2-grams: "the cat", "on the", "the mat" = 3/5;
    #   3-grams: "on the mat" = 1/4; 4-grams: 0/3 -> sacrebleu's default "exp" smoothing makes
    #   it 1/(2*3) = 1/6. BP = 1 (6 vs 6 words).
    #   BLEU = (5/6 * 3/5 * 1/4 * 1/6) ** (1/4) = (1/48) ** 0.25 = 0.379918 -> 37.9918
    assert m["bleu4"] == pytest.approx(100 * (1 / 48) ** 0.25)
    # ROUGE-1: 5 shared unigrams of 6 and 6 -> P = R = F = 5/6 -> 83.33
    # ROUGE-2: 3 shared bigrams of 5 and 5 -> 3/5 -> 60
    # ROUGE-L: LCS "the cat on the mat" = 5 -> 5/6 -> 83.33
    assert m["rouge1"] == pytest.approx(500 / 6)
    assert m["rouge2"] == pytest.approx(60.0)
    assert m["rougeL"] == pytest.approx(500 / 6)


def test_text_bleu_is_pooled_rouge_is_averaged(eval_extra):
    preds = ["alpha beta gamma delta", "alpha beta gamma delta"]
    refs = ["alpha beta gamma delta", "epsilon zeta eta theta"]
    m = text_metrics(preds, refs)
    # BLEU pools counts: 1-grams 4/8, 2-grams 3/6, 3-grams 2/4, 4-grams 1/2, BP = 1 (8 vs 8)
    #   -> (1/2 * 1/2 * 1/2 * 1/2) ** (1/4) = 1/2 -> 50 (the mean of sentence BLEU would differ).
    assert m["bleu4"] == pytest.approx(50.0)
    # ROUGE is the mean over pairs: (100 + 0) / 2 = 50 for each variant.
    for key in ("rouge1", "rouge2", "rougeL"):
        assert m[key] == pytest.approx(50.0), key


def test_rouge_l_is_rouge_scores_own_bit_for_bit(eval_extra):
    """The bit-parallel LCS gives rouge-score's table's last cell, and ROUGE-L its F-measure, on
    random token strings (small alphabets: many ties and repeats) and on real log text."""
    import gymnasium

    from rouge_score import rouge_scorer, tokenizers

    from rlog_env.leaderboard.metrics import lcs_length, rouge_l

    rng = np.random.default_rng(0)
    for _ in range(400):
        a = [str(t) for t in rng.integers(0, rng.integers(1, 6), rng.integers(0, 90))]
        b = [str(t) for t in rng.integers(0, rng.integers(1, 6), rng.integers(0, 90))]
        table = rouge_scorer._lcs_table(a, b) if a and b else [[0]]
        assert lcs_length(a, b) == table[-1][-1]
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    tokenize = tokenizers.DefaultTokenizer(use_stemmer=False).tokenize
    env = gymnasium.make("RLog/RootCauseAnalysis-v0", source="sim", split="test")
    texts = [env.reset(seed=i)[0] for i in range(20)] + ["", "!!!", "a a a b", "b a"]
    for target in texts:
        for prediction in texts[:8] + texts[-4:]:
            expected = scorer.score(target, prediction)["rougeL"].fmeasure
            assert rouge_l(tokenize(target), tokenize(prediction)) == expected
    # and text_metrics' ROUGE, each text tokenised once, is RougeScorer's own
    full = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
    for target in texts:
        for prediction in texts[:4] + texts[-4:]:
            scores = full.score(target, prediction)
            ours = text_metrics([prediction], [target])
            assert {k: ours[k] for k in scores} == {k: 100.0 * v.fmeasure for k, v in scores.items()}


def test_text_missing_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "sacrebleu", None)  # makes `import sacrebleu` fail
    with pytest.raises(ImportError, match=r"pip install 'rlog_env\[eval\]'"):
        text_metrics(["a"], ["a"])


def test_module_imports_without_the_eval_extra():
    code = (
        "import sys; sys.modules['sacrebleu'] = None; sys.modules['rouge_score'] = None\n"
        "import rlog_env.leaderboard.metrics as m\n"
        "print(m.parsing_metrics(['a'], ['a'])['GA'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1.0"


# ---------------------------------------------------------------------------------------------
# Bootstrap
# ---------------------------------------------------------------------------------------------


def test_bootstrap_ci_is_deterministic_for_a_seed():
    values = np.random.default_rng(1).normal(size=200)
    assert bootstrap_ci(values, seed=3) == bootstrap_ci(values, seed=3)
    assert bootstrap_ci(values, seed=3) != bootstrap_ci(values, seed=4)


def test_bootstrap_ci_contains_the_point_estimate_and_narrows():
    """The Poisson bootstrap (each value drawn Poisson(1) times per resample): it covers the
    mean and narrows as 1 / sqrt(n)."""
    small = [0.0, 1.0] * 10
    large = [0.0, 1.0] * 1000
    low_s, high_s = bootstrap_ci(small)
    low_l, high_l = bootstrap_ci(large)
    assert low_s <= 0.5 <= high_s and low_l <= 0.5 <= high_l
    # The standard error of a mean of 0/1 values at p = 1/2 is 0.5/sqrt(n): about 0.11 for
    # n = 20 and 0.011 for n = 2000, so the 95% width goes from ~0.44 to ~0.044.
    assert high_l - low_l < (high_s - low_s) / 5
    assert 0.03 < high_l - low_l < 0.06


def test_bootstrap_ci_degenerate_and_other_statistics():
    assert bootstrap_ci([2.5] * 7) == (2.5, 2.5)
    assert bootstrap_ci([4.0]) == (4.0, 4.0)
    values = np.arange(50, dtype=float)
    low, high = bootstrap_ci(values, statistic=np.median)
    assert low <= np.median(values) <= high
    # Another statistic is called on each resample (the values repeated by their weights): the
    # mean that way is the streamed weighted mean, up to rounding.
    other = bootstrap_ci(values, statistic=lambda x: float(np.mean(x)))
    assert other == pytest.approx(bootstrap_ci(values), rel=1e-12)


def test_bootstrap_ci_rejects_bad_arguments():
    with pytest.raises(ValueError, match="non-empty"):
        bootstrap_ci([])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci([1.0, 2.0], confidence=95)
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_ci([1.0, 2.0], n_resamples=0)


def test_bootstrap_metric_ga_and_f1():
    truth = ["a"] * 30 + ["b"] * 30 + ["c"] * 40
    pred = ["a"] * 30 + ["b"] * 20 + ["x"] * 10 + ["c"] * 40  # group b is split: GA = 0.7
    point = parsing_metrics(pred, truth)["GA"]
    assert point == pytest.approx(0.7)
    low, high = bootstrap_metric(parsing_metrics, pred, truth, key="GA", n_resamples=200)
    assert low <= point <= high and high - low > 0
    assert (low, high) == bootstrap_metric(parsing_metrics, pred, truth, key="GA", n_resamples=200)
    # Pairs stay paired: a perfect prediction is perfect in every resample.
    assert bootstrap_metric(parsing_metrics, truth, truth, key="GA", n_resamples=50) == (1.0, 1.0)
    # Extra columns (here EventIds) are resampled with the same indices.
    def ga_by_id(p, t, g):
        return parsing_metrics(p, t, truth_groups=g)["GA"]
    assert bootstrap_metric(ga_by_id, truth, truth, truth, n_resamples=20) == (1.0, 1.0)

    labels = ["abnormal"] * 20 + ["normal"] * 80
    answers = ["abnormal"] * 15 + ["normal"] * 5 + ["abnormal"] * 5 + ["normal"] * 75
    f1 = anomaly_metrics(answers, labels)["F1"]  # P = 15/20, R = 15/20 -> F1 = 0.75
    assert f1 == pytest.approx(0.75)
    low, high = bootstrap_metric(anomaly_metrics, np.array(answers), labels, key="F1")
    assert low <= f1 <= high


def test_bootstrap_metric_rejects_bad_arguments():
    with pytest.raises(ValueError, match="key="):
        bootstrap_metric(parsing_metrics, ["a"], ["a"], n_resamples=2)
    with pytest.raises(ValueError, match="one length"):
        bootstrap_metric(parsing_metrics, ["a"], ["a", "b"], key="GA")
    with pytest.raises(ValueError, match="at least one column"):
        bootstrap_metric(len)
    assert math.isfinite(bootstrap_metric(lambda x: float(np.mean(x)), [1.0, 2.0])[0])


# ---------------------------------------------------------------------------------------------
# The Poisson bootstrap: weights, streaming, reproducibility
# ---------------------------------------------------------------------------------------------


def test_poisson_weights_are_poisson_one_and_a_function_of_seed_key_and_resample():
    weights = poisson_weights(np.arange(20_000), 500, seed=1)
    assert weights.shape == (20_000, 500) and weights.dtype == np.uint8
    frequencies = np.bincount(weights.ravel(), minlength=5)[:5] / weights.size
    expected = [math.exp(-1) / math.factorial(k) for k in range(5)]
    assert frequencies == pytest.approx(expected, abs=2e-3)
    assert weights.mean() == pytest.approx(1.0, abs=5e-3) and weights.var() == pytest.approx(1.0, abs=1e-2)
    # Resamples drawn a few at a time, or keys in another order or company: the same weights.
    assert (poisson_weights(np.arange(20), 7, seed=1, start=3) == weights[:20, 3:10]).all()
    assert (poisson_weights([5, 2], 500, seed=1) == weights[[5, 2]]).all()
    assert not (poisson_weights(np.arange(20), 500, seed=2) == weights[:20]).all()


def test_bootstrap_is_identical_in_another_process():
    code = ("import numpy as np; from rlog_env.leaderboard.metrics import bootstrap_ci, bootstrap_key\n"
            "values = np.random.default_rng(5).normal(size=3000)\n"
            "keys = [bootstrap_key('env', 'train', 'sim', i) for i in range(3000)]\n"
            "print(repr(bootstrap_ci(values, keys=keys)))")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2)]
    values = np.random.default_rng(5).normal(size=3000)
    keys = [bootstrap_key("env", "train", "sim", i) for i in range(3000)]
    assert runs[0] == runs[1] == repr(bootstrap_ci(values, keys=keys)) + "\n"


def test_streamed_mean_bootstrap_equals_bootstrap_ci_and_ignores_the_order():
    values = np.random.default_rng(3).exponential(size=1500)
    keys = [bootstrap_key("e", i) for i in range(1500)]
    stream = MeanBootstrap()
    for key, value in zip(keys, values):
        stream.add(key, value)
    assert stream.interval() == bootstrap_ci(values, keys=keys)
    # The same episodes in another order: the same weights, so the same interval (to rounding).
    order = np.random.default_rng(4).permutation(1500)
    shuffled = bootstrap_ci(values[order], keys=[keys[i] for i in order])
    assert shuffled == pytest.approx(stream.interval(), rel=1e-12)
    low, high = stream.interval()
    assert low < values.mean() < high


def test_poisson_bootstrap_width_is_the_standard_error_of_the_mean():
    """On 50,000 skewed values the percentile interval is mean +- 1.96 standard errors (to 8 %:
    the Monte Carlo error of 2.5 % and 97.5 % quantiles of 1,000 resamples)."""
    values = np.random.default_rng(11).gamma(2.0, size=50_000)
    low, high = bootstrap_ci(values)
    half = 1.96 * values.std(ddof=1) / math.sqrt(values.size)
    assert high - low == pytest.approx(2 * half, rel=0.08)
    assert (low + high) / 2 == pytest.approx(values.mean(), abs=0.1 * half)


def _random_split(seed, n, templates=12, predictions=15):
    rng = np.random.default_rng(seed)
    truth = [f"t{int(v)}" for v in rng.integers(0, templates, n)]
    # Mostly right, sometimes merged or split templates, sometimes a one-off prediction.
    pred = [t if u < 0.7 else f"t{int(v)}" if u < 0.9 else f"odd {i}"
            for i, (t, u, v) in enumerate(zip(truth, rng.random(n), rng.integers(0, predictions, n)))]
    return pred, truth


@pytest.mark.parametrize("seed", range(4))
def test_metrics_of_counted_pairs_equal_the_metrics_of_the_messages(seed):
    from collections import Counter

    pred, truth = _random_split(seed, 300)
    truth = [None if i % 17 == 0 else t for i, t in enumerate(truth)]  # some unlabelled messages
    assert parsing_metrics_of_pairs(Counter(zip(pred, truth))) == parsing_metrics(pred, truth)
    rng = np.random.default_rng(seed)
    labels = [["normal", "abnormal"][int(v)] for v in rng.integers(0, 2, 300)]
    answers = [[" Normal", "abnormal", "dunno", None][int(v)] for v in rng.integers(0, 4, 300)]
    from rlog_env.leaderboard.metrics import anomaly_label
    assert anomaly_metrics_of_pairs(Counter(zip(map(anomaly_label, answers), labels))) == \
        anomaly_metrics(answers, labels)


@pytest.mark.parametrize("metric", ["GA", "F1"])
def test_streamed_pair_bootstrap_equals_bootstrap_metric(metric):
    if metric == "GA":
        rng = np.random.default_rng(8)
        truth = [f"t{int(v)}" for v in rng.integers(0, 6, 700)]
        # t0-t2 right, t3 sometimes split off as one-off predictions, t4 and t5 merged.
        pred = [f"odd {i}" if t == "t3" and u < 0.2 else "t4" if t == "t5" else t
                for i, (t, u) in enumerate(zip(truth, rng.random(700)))]
        fn = parsing_metrics
    else:
        rng = np.random.default_rng(8)
        truth = [["normal", "abnormal"][int(v)] for v in rng.integers(0, 2, 700)]
        pred = [t if u < 0.8 else "normal" if u < 0.9 else "???" for t, u in zip(truth, rng.random(700))]
        fn = anomaly_metrics
    keys = [bootstrap_key("env", i) for i in range(700)]
    stream = PairBootstrap(metric, n_resamples=100)
    for key, p, t in zip(keys, pred, truth):
        stream.add(key, p, t)
    assert stream.point() == fn(pred, truth)[metric]
    # Pairs with more than n_resamples / 2 (50) messages are kept as rows of weights, the others as
    # the keys of their messages: the same numbers either way.
    assert any(row is not None for row in stream._rows) and any(row is None for row in stream._rows)
    low, high = stream.interval()
    assert (low, high) == bootstrap_metric(fn, pred, truth, key=metric, keys=keys, n_resamples=100)
    assert low <= stream.point() <= high and high > low


def test_pair_bootstrap_memory_follows_distinct_pairs_not_messages():
    """60,000 messages over 40 pairs: 40 rows of weights (160 KB) and a block's weights (256 KB),
    not 60,000 entries."""
    import tracemalloc

    stream = PairBootstrap("GA")
    tracemalloc.start()
    for i in range(60_000):
        stream.add(i, f"p{i % 40}", f"t{i % 40}")
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert held < 600 * 1024, f"{held / 1024:.0f} KB"
    assert stream.interval() == (1.0, 1.0)


@pytest.mark.parametrize("metric", ["GA", "F1"])
def test_pair_bootstrap_drawn_a_few_resamples_at_a_time_gives_the_same_interval(metric, monkeypatch):
    """Resamples (and a sparse pair's keys) are weighted a chunk at a time; a tiny chunk (many
    chunks, sparse pairs split across them, rows made dense in pieces) gives the same numbers."""
    from rlog_env.leaderboard import metrics

    rng = np.random.default_rng(3)
    if metric == "GA":
        truth = [f"t{int(v)}" for v in rng.integers(0, 8, 600)]
        pred = [f"odd {i}" if u < 0.15 else t for i, (t, u) in enumerate(zip(truth, rng.random(600)))]
        fn = parsing_metrics
    else:
        truth = [["normal", "abnormal"][int(v)] for v in rng.integers(0, 2, 600)]
        pred = [t if u < 0.8 else "normal" if u < 0.9 else "???" for t, u in zip(truth, rng.random(600))]
        fn = anomaly_metrics
    keys = [bootstrap_key("env", i) for i in range(600)]
    expected = bootstrap_metric(fn, pred, truth, key=metric, keys=keys, n_resamples=100)
    monkeypatch.setattr(metrics, "WEIGHT_CELLS", 37)
    stream = PairBootstrap(metric, n_resamples=100)
    for key, p, t in zip(keys, pred, truth):
        stream.add(key, p, t)
    assert any(row is not None for row in stream._rows) and any(row is None for row in stream._rows)
    assert stream.interval() == expected


def test_pair_bootstrap_interval_memory_does_not_follow_the_distinct_pairs():
    """The interval is computed a few resamples at a time: its temporaries stay a few MB with
    3,000 distinct pairs (all 1,000 resamples at once took ~4 arrays of pairs x 1,000 floats,
    ~100 MB here, and grew with the distinct templates, so with a leaderboard's episodes)."""
    import tracemalloc

    stream = PairBootstrap("GA")
    for i in range(6_000):
        stream.add(bootstrap_key("env", i), f"p{i % 3000}", f"t{i % 2000}")
    tracemalloc.start()
    low, high = stream.interval()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 12 * 1024 * 1024, f"{peak / 2**20:.1f} MB"
    assert 0.0 <= low <= high <= 1.0
