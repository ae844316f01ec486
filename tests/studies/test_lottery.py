"""Lottery tickets: one IMP level against a hand computation, pruned weights at zero through training and
resume, the level chain and its controls, and mistakes named before any training."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn

from tests.conftest import assert_user_error, interrupted_after, run_cli, write_study
from tests.trained import Trained
from trainlab.api import check_study, pack_plan, run_study
from trainlab.errors import TrainlabError
from trainlab.execution.driver import Driver
from trainlab.store import open_store
from trainlab.studies.lottery.pruning import magnitude_mask, prunable, random_mask_like, remaining
from trainlab.studies.lottery.section import PruneSpec


def test_one_level_prunes_the_smallest_surviving_weights_per_layer() -> None:
    """Worked by hand: 20 % of each layer's surviving weights, smallest |w| first; weights already
    pruned stay pruned and do not count."""
    w1 = torch.tensor([[0.9, -0.1, 0.5, 0.3, -0.7]])  # 5 weights: 20 % -> 1 pruned: -0.1
    w2 = torch.tensor([[0.2, -0.6], [0.4, 0.05], [-0.3, 0.8], [0.1, 0.7], [0.9, -0.25]])  # 10 -> 2: 0.05, 0.1
    mask = magnitude_mask({"a": w1, "b": w2}, None, PruneSpec(amount=0.2))
    assert mask["a"].tolist() == [[True, False, True, True, True]]
    assert mask["b"].tolist() == [[True, True], [True, False], [True, True], [False, True], [True, True]]
    again = magnitude_mask({"a": w1, "b": w2}, mask, PruneSpec(amount=0.5))  # half of the 4 and 8 survivors
    assert again["a"].tolist() == [[True, False, False, False, True]]  # of 0.9, 0.5, 0.3, -0.7: 0.3 and 0.5 go
    assert again["b"].tolist() == [[False, True], [False, False], [False, True], [False, True], [True, False]]


def test_global_scope_compares_all_layers_at_once() -> None:
    """Globally, the 3 smallest of 6 weights go, wherever they are."""
    mask = magnitude_mask(
        {"a": torch.tensor([0.1, 0.9, 0.2]), "b": torch.tensor([0.5, 0.05, 0.6])},
        None,
        PruneSpec(amount=0.5, scope="global"),
    )
    assert mask["a"].tolist() == [False, True, False] and mask["b"].tolist() == [True, False, True]


def test_prunable_defaults_and_patterns() -> None:
    """Linear and Conv weights by default (no biases, norms or embeddings, tied outputs included); a
    pattern that matches nothing lists the parameters."""
    model = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 4), nn.LayerNorm(4), nn.Linear(4, 10, bias=False))
    model[3].weight = model[0].weight  # tied to the embedding
    assert list(prunable(model)) == ["1.weight"]
    assert list(prunable(model, ("*.bias",))) == ["1.bias", "2.bias"]
    with pytest.raises(TrainlabError, match=r"lottery.prunable: 'conv\*' matches no parameter; parameters: 0.weight"):
        prunable(model, ("conv*",))


def test_random_masks_keep_each_layers_count() -> None:
    reference = {"a": torch.tensor([True, False, False, True, True]), "b": torch.ones(3, 3, dtype=torch.bool)}
    mask = random_mask_like(reference, seed=3)
    assert [int(m.sum()) for m in mask.values()] == [3, 9] and remaining(mask)["total"] == 12 / 14


def lottery_study(folder: Path, **section: object) -> Path:
    return write_study(
        folder,
        kind="lottery",
        runs=[{"model.name": "mlp", "model.hidden": [32]}],
        lottery={"levels": 2, "controls": ["random_reinit", "random_prune"], **section},
    )


def weights_and_mask(store: Path, run_id: str, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    folder = store / "runs" / run_id
    return torch.load(folder / "last.pt", weights_only=True)["model"][name], torch.load(folder / "mask.pt")[name]


def test_levels_rewind_to_init_and_keep_pruned_weights_at_zero(trained: Callable[[str], Trained]) -> None:
    """Level 2 keeps 64 % of the weights, starts from level 0's init (masked), and after training every
    pruned weight is exactly zero; the controls keep the ticket's sparsity."""
    study = trained("lottery")
    lines = study.before
    assert [line.relation for line in lines][:9] == [
        None,
        "level 1 pruned from",
        "random reinit of",
        "random prune of",
        "level 2 pruned from",
        "random reinit of",
        "random prune of",
        "one-shot 50% pruned from",
        "one-shot 50% pruned (fresh init) from",
    ]
    assert lines[1].parent == lines[0].id and lines[4].parent == lines[1].id and lines[2].parent == lines[1].id
    store = study.store
    dense, level2 = lines[0].id, lines[4].id
    init = torch.load(store / "runs" / dense / "init.pt", weights_only=True)["1.weight"]
    start = torch.load(store / "runs" / level2 / "init.pt", weights_only=True)["1.weight"]
    trained_weights, mask = weights_and_mask(store, level2, "1.weight")
    assert torch.equal(start, init * mask)  # rewound to the dense run's init, pruned
    assert (trained_weights[~mask] == 0).all() and (trained_weights[mask] != 0).all()
    assert mask.float().mean().item() == pytest.approx(0.64, abs=0.01)
    facts = open_store(store).runs("tiny").set_index("id")["facts"]
    assert json.loads(facts[lines[3].id])["remaining"]["total"] == pytest.approx(0.8, abs=0.01)
    reinit = torch.load(store / "runs" / lines[2].id / "init.pt", weights_only=True)["1.weight"]
    assert torch.equal(
        torch.load(store / "runs" / lines[2].id / "mask.pt")["1.weight"],
        torch.load(store / "runs" / lines[1].id / "mask.pt")["1.weight"],
    )
    assert not torch.equal(reinit, init * (reinit != 0))  # a fresh initialisation, same mask
    dense_count = lines[0].params_total
    results = pd.read_csv(study.page.parent / "results.csv")
    params = dict(zip(results["exp"], results["params"].astype(str)))
    assert params[lines[0].experiment] == f"{dense_count:,}"  # the dense run: every weight
    kept = json.loads(facts[level2])
    remaining = dense_count - kept["weights_prunable"] + kept["weights_kept"]
    assert kept["weights_kept"] / kept["weights_prunable"] == pytest.approx(0.64, abs=0.01)
    assert params[lines[4].experiment] == f"{remaining:,} ({remaining / dense_count:.1%})"  # level 2: what is left
    page = study.page.read_text()
    assert "Lottery tickets" in page and "Winning tickets stay at or above" in page
    assert (study.page.parent / "lottery.png").exists()


def test_a_level_interrupted_resumes_with_its_mask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C in level 1 after its first epoch: the dense run is kept, level 1 resumes from its checkpoint,
    and its pruned weights are still exactly zero at the end."""
    study = write_study(
        tmp_path, kind="lottery", runs=[{"model.name": "mlp", "model.hidden": [32]}], lottery={"levels": 1}
    )
    run_study(study, only=[1])  # the dense run alone
    with interrupted_after(1, monkeypatch), pytest.raises(KeyboardInterrupt):
        run_study(study)
    dense, level1 = (line.id for line in check_study(study))
    assert [line.status for line in check_study(study)] == ["done", "partial"]
    assert [o.status for o in run_study(study)] == ["skipped", "done"]
    trained, mask = weights_and_mask(tmp_path / "store", level1, "1.weight")
    assert (trained[~mask] == 0).all() and int((~mask).sum()) > 0


def test_check_shows_the_packs_a_level_chain_trains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runs of a lottery study share their settings but wait for each other: `check` lists the packs the
    run forms, stage by stage (the dense runs, the tickets, then their controls with the next tickets, then
    theirs), each with both seeds (14 runs in packs of at most 8: cutting all 14 into two packs of 7 first had
    split the seeds), not one pack of every run."""
    study = write_study(
        tmp_path,
        kind="lottery",
        runs=[{"model.name": "mlp", "model.hidden": [32]}],
        lottery={"levels": 2, "controls": ["random_reinit", "random_prune"]},
        seeds=[0, 1],
    )
    planned = [sorted(p.experiments) for p in pack_plan(study, pack=8)]
    assert planned == [[1, 1], [2, 2], [3, 3, 4, 4, 5, 5], [6, 6, 7, 7]]
    trained: list[list[int]] = []
    run_pack = Driver._run_pack
    monkeypatch.setattr(
        Driver, "_run_pack", lambda d, us: trained.append(sorted(u.experiment for u in us)) or run_pack(d, us)
    )
    assert {o.status for o in run_study(study, pack=8)} == {"done"}
    assert trained == planned
    (tmp_path / "one").mkdir()
    lone = pack_plan(write_study(tmp_path / "one", kind="lottery", runs=[{"model.name": "mlp"}], lottery={"levels": 1}))
    assert "the runs that share its settings are not ready at the same time" in lone[0].alone


def test_dense_runs_that_tickets_rewind_to_at_a_step_pack(tmp_path: Path) -> None:
    """Rewinding to step 5: the two dense runs (two seeds) pack, and each keeps the weights it has after step 5,
    written back from the pack at that step: those it keeps alone (the pack's weights at the round's start, the
    initial ones, would differ)."""
    stores = {}
    for pack in ("off", "2"):
        (tmp_path / pack).mkdir()
        study = write_study(
            tmp_path / pack,
            kind="lottery",
            runs=[{"model.name": "mlp", "model.hidden": [32]}],
            lottery={"levels": 1, "rewind": "step:5"},
            seeds=[0, 1],
        )
        assert {o.status for o in run_study(study, pack=pack)} == {"done"}
        stores[pack] = tmp_path / pack / "store"
    facts = open_store(stores["2"]).runs("tiny")["facts"]
    assert [json.loads(f).get("notes") for f in facts] == [None] * 4  # none trained alone
    kept = sorted(p.relative_to(stores["off"]) for p in stores["off"].glob("runs/*/step_5.pt"))
    assert len(kept) == 2 and kept == sorted(p.relative_to(stores["2"]) for p in stores["2"].glob("runs/*/step_5.pt"))
    for name in kept:
        alone, packed = (torch.load(stores[k] / name, weights_only=True) for k in ("off", "2"))
        for key, weights in alone.items():
            torch.testing.assert_close(packed[key], weights, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"fraction": 1.5}, "lottery.fraction: Input should be less than 1"),
        ({"fraction": 0}, "lottery.fraction: Input should be greater than 0"),
        ({"prunable": ["conv*"]}, "lottery.prunable: 'conv*' matches no parameter; parameters: 1.weight, 1.bias"),
        ({"rewind": "step:100000"}, "lottery.rewind: step:100000 is beyond the dense run's 21 steps (3 epochs)"),
        ({"rewind": "epoch:9"}, "lottery.rewind: epoch:9 is beyond"),
        ({"one_shot": [0.3, 1.2]}, "lottery.one_shot: each pruned fraction must be in (0, 1) (got [0.3, 1.2])"),
        ({"layer_fractions": {"9.*": 0.5}}, "lottery.layer_fractions: '9.*' matches no prunable parameter; prunable:"),
        ({"layer_fractions": {"1.*": 2}}, "lottery.layer_fractions: each must be in (0, 1) (got {'1.*': 2.0})"),
    ],
)
def test_lottery_mistakes_are_one_line_before_any_training(tmp_path: Path, section: dict, message: str) -> None:
    """Each in one line, nothing written; a layer fraction that applies to no parameter is refused as an
    unmatched `prunable` is (it was silently ignored), and "(got ...)" is said once."""
    result = run_cli("run", str(lottery_study(tmp_path, **section)))
    assert_user_error(result, message)
    assert result.stderr.count("(got ") <= 1
    assert not (tmp_path / "store").exists()


def test_only_a_deep_level_brings_the_levels_it_needs(tmp_path: Path) -> None:
    """--only 5 (level 2) plans the dense run and level 1 too, not the controls."""
    lines = check_study(lottery_study(tmp_path), only=[5])
    assert [line.experiment for line in lines] == [1, 2, 5]
    with pytest.raises(TrainlabError, match=r"--only: no experiment 99; this study has 1..7"):
        check_study(lottery_study(tmp_path), only=[99])


def test_a_starting_point_grid_starts_where_it_says(trained: Callable[[str], Trained]) -> None:
    """α = 0, β = 0 starts at the dense run's w0; α = 1, β = 0 at its trained w* (pruned by 10 %, so the
    pruned weights are zero there); every point trains, and the report draws the grid."""
    study = trained("lottery")
    dense, grid = study.before[0], study.before[-4:]
    assert [line.relation for line in grid] == [f"start at alpha {a}, beta {b} from" for a in (0, 1) for b in (0, 0.5)]
    runs = study.store / "runs"
    load = lambda run, name: torch.load(runs / run / name, weights_only=True)  # noqa: E731
    w0, w_star = load(dense.id, "init.pt")["1.weight"], load(dense.id, "last.pt")["model"]["1.weight"]
    mask = load(grid[0].id, "mask.pt")["1.weight"]
    assert mask.float().mean().item() == pytest.approx(0.9, abs=0.01)
    assert torch.equal(load(grid[0].id, "init.pt")["1.weight"], w0 * mask)
    torch.testing.assert_close(load(grid[2].id, "init.pt")["1.weight"], w_star * mask)
    off_line = load(grid[1].id, "init.pt")["1.weight"]
    assert not torch.equal(off_line, w0 * mask) and (off_line[~mask] == 0).all()
    assert "Starting points" in study.page.read_text() and (study.page.parent / "start_grid.png").exists()


def test_a_mask_that_does_not_fit_the_model_is_named(tmp_path: Path) -> None:
    """A source run whose mask.pt has other shapes (a different model): one clear error, not a traceback."""
    from trainlab.studies.lottery.pruning import make_mask

    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    torch.save({"0.weight": torch.ones(5, 4, dtype=torch.bool)}, tmp_path / "mask.pt")
    with pytest.raises(TrainlabError, match=r"mask 0.weight has shape \(5, 4\), the model has \(3, 4\)"):
        make_mask(model, PruneSpec(), tmp_path, torch.device("cpu"))


def _level_rows(role: str, level: int, remaining: float, seeds: int, stop: float, at_end: bool) -> list[dict]:
    return [
        {
            "role": role,
            "level": level,
            "seed": seed,
            "remaining": remaining,
            "test": 0.9 + 0.01 * level,
            "stop": stop,
            "stop_unit": "iteration",
            "stop_at_end": at_end,
        }
        for seed in range(seeds)
    ]


def test_lottery_findings_say_when_they_rest_on_one_seed_or_on_the_last_evaluation() -> None:
    """One seed: every finding says so, and a closing sentence says what it costs; a lowest validation loss at
    a run's last evaluation is named as where training ended, not a minimum. Two seeds, minima inside the
    runs: neither hedge."""
    from trainlab.studies.lottery.report import lottery_findings
    from trainlab.studies.lottery.section import TICKET

    def table(seeds: int, at_end: bool) -> pd.DataFrame:
        rows = _level_rows(TICKET, 0, 100.0, seeds, 500, at_end)
        rows += _level_rows(TICKET, 1, 51.2, seeds, 400, False) + _level_rows(TICKET, 2, 21.0, seeds, 300, False)
        return pd.DataFrame(rows)

    hedged = lottery_findings(table(seeds=1, at_end=True), "accuracy")
    assert all(text.endswith("(one seed).") for text in hedged[:-1])
    assert hedged[-1].startswith("One seed per level")
    stop = next(text for text in hedged if "validation loss is lowest" in text)
    assert "For 1 of these 2 runs the lowest point is the last evaluation" in stop
    plain = lottery_findings(table(seeds=2, at_end=False), "accuracy")
    assert not any("one seed" in text.lower() or "last evaluation" in text for text in plain)
