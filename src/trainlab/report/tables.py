"""Tables built from records, rendered to Markdown, LaTeX (booktabs), CSV and HTML from one model."""

from __future__ import annotations

import csv
import html
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from trainlab.analysis.curves import AXES, first_reaching, within_target
from trainlab.analysis.stats import MeanCI, mean_ci
from trainlab.files import write_text_atomic
from trainlab.report.records import StudyRecords


@dataclass
class Table:
    caption: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    bold: set[tuple[int, int]] = field(default_factory=set)  # (row, column) cells to emphasise

    def save(self, out: Path, stem: str, formats: tuple[str, ...] = ("md", "tex", "csv")) -> None:
        """Markdown, LaTeX and CSV files `out/stem.*`, each written atomically."""
        render = {"md": self.markdown, "tex": self.latex, "csv": self.csv}
        for suffix in formats:
            write_text_atomic(out / f"{stem}.{suffix}", render[suffix]())

    def markdown(self) -> str:
        def cell(i: int, j: int, text: str) -> str:
            return f"**{text}**" if (i, j) in self.bold else text

        lines = ["| " + " | ".join(self.header) + " |", "|" + "---|" * len(self.header)]
        lines += ["| " + " | ".join(cell(i, j, t) for j, t in enumerate(r)) + " |" for i, r in enumerate(self.rows)]
        return "\n".join(lines) + f"\n\n{self.caption}\n"

    def latex(self) -> str:
        def esc(text: str) -> str:
            for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#")):
                text = text.replace(a, b)
            return text.replace("±", r"$\pm$")

        def cell(i: int, j: int, text: str) -> str:
            return rf"\textbf{{{esc(text)}}}" if (i, j) in self.bold else esc(text)

        body = [" & ".join(cell(i, j, t) for j, t in enumerate(r)) + r" \\" for i, r in enumerate(self.rows)]
        return "\n".join(
            [
                r"\begin{table}[t]",
                r"\centering",
                r"\begin{tabular}{" + "l" * len(self.header) + "}",
                r"\toprule",
                " & ".join(esc(h) for h in self.header) + r" \\",
                r"\midrule",
                *body,
                r"\bottomrule",
                r"\end{tabular}",
                rf"\caption{{{esc(self.caption)}}}",
                r"\end{table}",
                "",
            ]
        )

    def csv(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(self.header)
        writer.writerows(self.rows)
        return buf.getvalue()

    def html(self) -> str:
        def cell(i: int, j: int, text: str) -> str:
            text = html.escape(text)
            return f"<td><b>{text}</b></td>" if (i, j) in self.bold else f"<td>{text}</td>"

        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header)
        body = "".join(
            "<tr>" + "".join(cell(i, j, t) for j, t in enumerate(r)) + "</tr>" for i, r in enumerate(self.rows)
        )
        caption = f"<caption>{html.escape(self.caption)}</caption>"
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _num(value: float, digits: int = 4) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}g}"


def _seed_stat(runs: pd.DataFrame, column: str) -> MeanCI:
    return mean_ci(runs[column].tolist())


def memory_column(records: StudyRecords) -> str:
    """The peak-memory metric the runs have: the allocator's on CUDA, the process RSS on CPU."""
    return next((c for c in ("peak_allocated_mb", "peak_rss_mb") if records.runs[c].notna().any()), "peak_rss_mb")


def ordered_experiments(records: StudyRecords) -> list[tuple[int, str, pd.DataFrame]]:
    """Experiments sorted by architecture, then layers, then optimizer."""
    return sorted(records.experiments(), key=lambda e: records.sort_key(e[0], e[2]))


def name_columns(records: StudyRecords) -> list[str]:
    """The columns that name an experiment: its number, its architecture where the study has several (bold
    marks the best per architecture), and its label."""
    several = len({records.architecture(runs) for _, _, runs in records.experiments()}) > 1
    return ["exp", *(["architecture"] if several else []), "configuration"]


def name_cells(records: StudyRecords, columns: list[str], number: int, label: str, runs: pd.DataFrame) -> list[str]:
    return [str(number), *([records.architecture(runs)] if "architecture" in columns else []), label]


def _parameters(runs: pd.DataFrame) -> str:
    """The experiment's parameter count; for a pruned run (its facts count the weights its mask keeps), the
    weights remaining and their share of the dense count."""
    total = int(runs["params_total"].iloc[0])
    facts = json.loads(runs["facts"].iloc[0])
    if "weights_kept" not in facts:
        return f"{total:,}"
    remaining = total - facts["weights_prunable"] + facts["weights_kept"]
    return f"{remaining:,} ({remaining / total:.1%})"


def results_table(records: StudyRecords) -> Table:
    """One row per experiment: metrics at the best-valid epoch, seconds per epoch, parameters, memory."""
    metric, n_seeds = records.metric_title, records.n_seeds
    memory = memory_column(records)
    names = name_columns(records)
    header = [
        *names,
        f"train {metric}",
        f"valid {metric}",
        f"test {metric}",
        "best step" if records.step_based else "best epoch",
        "train s/epoch",
        "params",
        memory.replace("_", " "),
    ]
    table = Table("", header)
    valid_stats = []
    for number, label, runs in ordered_experiments(records):
        valid = _seed_stat(runs, "valid_metric")
        valid_stats.append((str(records.column(runs, "model.name")), valid.mean))
        table.rows.append(
            [
                *name_cells(records, names, number, label, runs),
                _seed_stat(runs, "train_metric").text(),
                valid.text(),
                _seed_stat(runs, "test_metric").text(),
                _num(runs["best_step" if records.step_based else "best_epoch"].mean(), 3),
                _num(runs["train_s_per_epoch"].mean(), 3),
                _parameters(runs),
                _num(runs[memory].max(), 4),
            ]
        )
    column = header.index(f"valid {metric}")
    for model in {m for m, _ in valid_stats}:
        scores = {i: v for i, (m, v) in enumerate(valid_stats) if m == model and not math.isnan(v)}
        if scores:
            best = max(scores.values()) if records.mode == "max" else min(scores.values())
            table.bold.update((i, column) for i, v in scores.items() if v == best)  # ties: all bold
    seeds = "mean ± 95 % confidence interval over n seeds" if n_seeds > 1 else "one seed per experiment"
    better = "highest" if records.mode == "max" else "lowest"
    table.caption = (
        f"Results of study {records.name}, sorted by architecture, layers and optimizer: {metric} on the "
        f"train, valid and test splits at the epoch with the best valid {metric} ({seeds}; train {metric} "
        f"is the running value over that epoch, test is evaluated on that epoch's checkpoint). Bold: the "
        f"{better} valid {metric} per architecture. 'train s/epoch' excludes evaluation; "
        f"'{memory.replace('_', ' ')}' is the peak over training."
        + (
            " 'params' of a pruned run: the weights remaining, with their share of the dense count."
            if records.runs["facts"].str.contains('"weights_kept"').any()
            else ""
        )
    )
    return table


def resources_table(records: StudyRecords) -> Table:
    """Time, memory (every view measured) and parameters per experiment, means over seeds."""
    views = [
        c
        for c in ("peak_allocated_mb", "peak_reserved_mb", "nvml_used_mb", "peak_rss_mb")
        if records.runs[c].notna().any()
    ]
    throughput = "tokens_per_s" if records.runs["tokens_per_s"].notna().any() else "samples_per_s"
    names = name_columns(records)
    header = [
        *names,
        "train s/epoch",
        "eval s/epoch",
        f"train {throughput.replace('_per_', '/')}",
        f"eval {throughput.replace('_per_', '/')}",
        "params (trainable)",
        "FLOPs (total)",
        *(v.replace("_", " ") for v in views),
        "params + grads + optimizer MB",
    ]
    table = Table("", header)
    for number, label, runs in ordered_experiments(records):
        analytic = [json.loads(f).get("memory_analytic") for f in runs["facts"]] if "facts" in runs else []
        state = next((sum(a.values()) for a in analytic if a), float("nan"))
        table.rows.append(
            [
                *name_cells(records, names, number, label, runs),
                _num(runs["train_s_per_epoch"].mean(), 3),
                _num(runs["eval_s_per_epoch"].mean(), 3),
                _num(runs[throughput].mean(), 4),
                _num(runs[f"eval_{throughput}"].mean(), 4),
                f"{int(runs['params_total'].iloc[0]):,} ({int(runs['params_trainable'].iloc[0]):,})",
                _num(runs["flops"].mean(), 3),
                *(_num(runs[v].max(), 4) for v in views),
                _num(state, 4),
            ]
        )
    table.caption = (
        f"Resources of study {records.name} (means over seeds). Memory: the PyTorch allocator's peak "
        "allocated memory counts live tensors; its peak reserved memory adds the blocks it caches for reuse; "
        "the device memory that nvidia-smi (NVML) shows adds the CUDA context and other processes, so it is "
        "the largest and the allocated peak the smallest. On CPU the process's peak resident memory is shown. "
        "'params + grads + optimizer MB' is the analytic part of memory that model state must take; the rest "
        "of the peak is activations and workspace. FLOPs are cumulative training FLOPs (analytic formula "
        "where one exists, otherwise PyTorch's FLOP counter). "
        + " ".join(filter(None, (hardware_note(records), packing_note(records))))
    )
    return table


def hardware_note(records: StudyRecords) -> str:
    """Which machine measured the times: one sentence, or a warning when the runs' hardware differs."""
    where: dict[str, list[int]] = {}
    for number, _, runs in ordered_experiments(records):
        for facts in runs["facts"] if "facts" in runs else []:
            hw = json.loads(facts).get("hardware")
            if hw:
                name = f"{hw['device_name']} ({hw['device']}, {hw['threads']} threads)"
                where.setdefault(name, []).append(number)
    if len(where) == 1:
        return f"Measured on {next(iter(where))}."
    if len(where) > 1:
        parts = "; ".join(f"{name}: exp {', '.join(map(str, sorted(set(exps))))}" for name, exps in where.items())
        return f"Runs were measured on different hardware ({parts}): compare times with care."
    return ""


def mixed_packing(records: StudyRecords) -> bool:
    """Some runs trained packed and others alone: their seconds do not compare."""
    counts = records.packed.values()
    return 0 < sum(packed for packed, _ in counts) < sum(total for _, total in counts)


def spans(numbers: list[int]) -> list[str]:
    """Sorted numbers as runs of consecutive ones: [1, 2, 3, 5] -> ["1-3", "5"]."""
    out: list[list[int]] = []
    for n in numbers:
        if out and n == out[-1][1] + 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return [f"{a}-{b}" if b > a else f"{a}" for a, b in out]


def packing_note(records: StudyRecords) -> str:
    """Which experiments' runs trained packed: their seconds are their pack's wall time, shared by its members,
    so their times compare only with runs trained the same way. One sentence, or "" when no run trained packed."""
    counts = records.packed
    if not any(packed for packed, _ in counts.values()):
        return ""
    seconds = "a packed run's seconds are its pack's wall time, shared by the runs stepping with it"
    if not mixed_packing(records):
        return f"Every run trained packed (trainlab run --pack): {seconds}."
    whole = [n for n, (p, t) in counts.items() if p == t]
    part = [f"{n} ({p} of {t} runs)" for n, (p, t) in counts.items() if 0 < p < t]
    some = ", ".join([*spans(whole), *part])
    return (
        f"Exp {some} trained packed (trainlab run --pack), the rest one run at a time: {seconds}, so compare "
        "times only between runs trained the same way."
    )


UNITS = {"step": "steps", "epoch": "epochs", "seen": "examples", "seconds": "seconds", "flops": "FLOPs"}


def convergence_table(records: StudyRecords) -> tuple[Table, list[int]]:
    """Epochs and training seconds until the valid metric is within 5 % of the study's best.

    Returns the table and the experiment numbers from fastest to slowest (those never reaching the
    target last, ordered by their best value).
    """
    metric, mode, shown = records.main_metric, records.mode, records.metric_title
    first, second = records.x, "seconds" if records.x != "seconds" else "flops"
    best_all = records.runs["valid_metric"].max() if mode == "max" else records.runs["valid_metric"].min()
    target = within_target(best_all, mode)
    entries = []
    for number, label, runs in records.experiments():
        epochs, seconds = [], []
        for rid in runs["id"]:
            epochs.append(first_reaching(records.curve(rid, "valid", metric, AXES[first]), target, mode))
            seconds.append(first_reaching(records.curve(rid, "valid", metric, AXES[second]), target, mode))
        best = mean_ci(runs["valid_metric"].tolist())
        reached = sum(not math.isnan(e) for e in epochs)
        entries.append((number, label, mean_ci(epochs), mean_ci(seconds), best, reached, len(epochs)))
    sign = -1 if mode == "max" else 1
    entries.sort(key=lambda e: (math.isnan(e[3].mean), e[3].mean if not math.isnan(e[3].mean) else 0, sign * e[4].mean))
    table = Table(
        f"Convergence: {records.x_label(first)} and {records.x_label(second)} until the valid {shown} first reaches "
        f"{target:.4g} (within 5 % of the best valid {shown} in the study, {best_all:.4g}); fastest first. "
        f"'-' means not reached; those are ordered by their best valid {shown}. {packing_note(records)}".rstrip(),
        [
            "rank",
            "exp",
            "config",
            f"{UNITS[first]} to target",
            f"{UNITS[second]} to target",
            f"best valid {shown}",
            "runs reaching",
        ],
    )
    for rank, (number, label, ep, sec, best, reached, n) in enumerate(entries, 1):
        table.rows.append(
            [
                str(rank),
                str(number),
                label,
                "-" if not reached else ep.text(1),
                "-" if not reached else sec.text(2),
                best.text(),
                f"{reached}/{n}",
            ]
        )
    return table, [e[0] for e in entries]
