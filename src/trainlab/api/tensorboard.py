"""TensorBoard in and out, with the `tensorboard` package's own reader and writer (the `tensorboard` extra).

In: `trainlab import tensorboard LOGDIR --study NAME` makes a tracked run of every folder of LOGDIR that holds
event files. Its config is its hparams (the hparams plugin's session start, in the folder or in the subfolder
`SummaryWriter.add_hparams` makes), else its folder's name; its id also covers the folder, so importing again
finds the runs already there. A tag names its split by a part train / val(id)(ation) / eval / dev / test
("loss/train", "val_loss", "train/accuracy"), else it is a train metric; the steps at which valid values were
logged end its rounds (the store's epochs), one round when there are none. Each run keeps its tags as they
were (facts `tensorboard.tags`), so exporting it writes the same tags at the same steps.

Out: `export_tensorboard` writes each run of a study as a folder of scalar events (tag `split/name`, or the
imported tag) with its config as hparams.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from trainlab.api.track import TrackedRun
from trainlab.errors import TrainlabError
from trainlab.spec.dotted import flatten
from trainlab.store import Store

SPLIT_WORDS = {
    "train": "train",
    "training": "train",
    "val": "valid",
    "valid": "valid",
    "validation": "valid",
    "eval": "valid",
    "dev": "valid",
    "test": "test",
}
_PREFIX, _SUFFIX = re.compile(r"^([A-Za-z]+)[_-](.+)$"), re.compile(r"^(.+)[_-]([A-Za-z]+)$")
Row = tuple[int, str, str, float, float]  # step, split, name, value, wall seconds into the run


def _tensorboard() -> Any:
    try:
        from tensorboard.backend.event_processing import event_accumulator
    except ImportError:
        raise TrainlabError("tensorboard is not installed: pip install 'trainlab[tensorboard]'") from None
    return event_accumulator


def split_of(tag: str) -> tuple[str, str]:
    """(split, name) of a tag: a '/'-part or a '_'-affix that names a split says which, the rest is the name."""
    parts = tag.split("/")
    for i, part in enumerate(parts):
        if part.lower() in SPLIT_WORDS and len(parts) > 1:
            return SPLIT_WORDS[part.lower()], "/".join(parts[:i] + parts[i + 1 :])
    prefix, suffix = _PREFIX.match(parts[-1]), _SUFFIX.match(parts[-1])
    for word, rest in ((prefix and prefix[1], prefix and prefix[2]), (suffix and suffix[2], suffix and suffix[1])):
        if word and word.lower() in SPLIT_WORDS:
            return SPLIT_WORDS[word.lower()], "/".join([*parts[:-1], rest])
    return "train", tag


# -- in ----------------------------------------------------------------------------------------------------


def run_folders(logdir: Path) -> list[Path]:
    """Every folder under `logdir` (itself included) holding event files, in path order."""
    if not logdir.is_dir():
        raise TrainlabError(f"import tensorboard: {logdir} is not a folder")
    return sorted({p.parent for p in logdir.rglob("*tfevents*") if p.is_file()})


def check_intact(folder: Path) -> None:
    """Every event file reads to its end: a damaged record stops TensorBoard's reader without a word, so
    the bytes it read are compared with the file's."""
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader

    for path in sorted(folder.glob("*tfevents*")):
        size = path.stat().st_size
        read = sum(len(record) + 16 for record in RawEventFileLoader(str(path)).Load())  # 8 + 4 + data + 4 bytes
        if read != size:
            raise TrainlabError(
                f"import tensorboard: {path}: damaged event file (records end at byte {read} of {size}); "
                "nothing imported"
            )


def read_folder(folder: Path) -> tuple[dict[str, list[tuple[int, float, float]]], dict[str, Any]]:
    """The folder's scalars (tag -> (step, value, wall time) in step order) and hparams."""
    ea = _tensorboard()
    acc = ea.EventAccumulator(str(folder), size_guidance={ea.SCALARS: 0, ea.TENSORS: 0})
    acc.Reload()
    tags = acc.Tags()
    scalars = {t: [(e.step, e.value, e.wall_time) for e in acc.Scalars(t)] for t in tags["scalars"]}
    for tag in tags["tensors"]:  # TF2's tf.summary.scalar writes tensors of the scalars plugin
        if acc.SummaryMetadata(tag).plugin_data.plugin_name == "scalars":
            from tensorboard.util import tensor_util

            events = acc.Tensors(tag)
            scalars[tag] = [(e.step, float(tensor_util.make_ndarray(e.tensor_proto)), e.wall_time) for e in events]
    return {t: sorted(v, key=lambda r: r[0]) for t, v in scalars.items()}, _hparams(acc)


def _hparams(acc: Any) -> dict[str, Any]:
    from tensorboard.plugins.hparams import plugin_data_pb2

    try:
        content = acc.PluginTagToContent("hparams")
    except KeyError:
        return {}
    out: dict[str, Any] = {}
    for data in content.values():
        parsed = plugin_data_pb2.HParamsPluginData.FromString(data)
        if parsed.WhichOneof("data") == "session_start_info":
            for name, value in parsed.session_start_info.hparams.items():
                kind = value.WhichOneof("kind")
                v = getattr(value, kind) if kind else None
                out[name] = int(v) if isinstance(v, float) and v.is_integer() and name == "seed" else v
    return out


def rounds(rows: list[Row]) -> list[list[Row]]:
    """The rows cut into rounds at the steps where valid values were logged (rows after the last such step
    join the last round); one round without valid values."""
    ends = sorted({r[0] for r in rows if r[1] == "valid"})
    if not ends:
        return [rows]
    out: list[list[Row]] = [[] for _ in ends]
    for row in sorted(rows, key=lambda r: r[0]):
        out[min(bisect.bisect_left(ends, row[0]), len(ends) - 1)].append(row)  # the first round ending at or after it
    return out


def import_tensorboard(
    logdir: str | Path,
    study: str,
    store: str | Path,
    main_metric: str = "loss",
    on_run: Callable[[str, str, str], None] | None = None,
) -> list[str]:
    """Import every run folder of `logdir` into `study` in `store`; returns the run ids. `on_run(folder, id,
    what)` hears of each (imported, or already there). Every folder is read and checked before anything is
    written, so a damaged file imports nothing."""
    root = Path(logdir)
    _tensorboard()
    folders = run_folders(root)
    read = {}
    for folder in folders:
        check_intact(folder)
        read[folder] = read_folder(folder)
    runs = _merge_hparams_folders(read)
    if not any(scalars for scalars, _ in runs.values()):
        found = f"{len(folders)} folders with event files"
        raise TrainlabError(f"import tensorboard: {root} has no scalar events ({found})")
    ids = []
    for folder, (scalars, hparams) in runs.items():
        source = folder.relative_to(root).as_posix() if folder != root else "."
        ids.append(_import_run(study, store, source, scalars, hparams, main_metric, on_run))
    return ids


def _merge_hparams_folders(read: Mapping[Path, tuple[dict, dict]]) -> dict[Path, tuple[dict, dict]]:
    """`SummaryWriter.add_hparams` writes the hparams (and their metric values) in a subfolder of the run's:
    those go to the run whose folder holds theirs."""
    runs = {f: (dict(s), dict(h)) for f, (s, h) in read.items()}
    for folder, (scalars, hparams) in read.items():
        if hparams and folder.parent in runs and folder.parent != folder:
            runs[folder.parent][0].update(scalars)
            runs[folder.parent][1].update(hparams)
            del runs[folder]
    return {f: v for f, v in runs.items() if v[0]}


def _import_run(
    study: str,
    store: str | Path,
    source: str,
    scalars: Mapping[str, list[tuple[int, float, float]]],
    hparams: Mapping[str, Any],
    main_metric: str,
    on_run: Callable[[str, str, str], None] | None,
) -> str:
    config = dict(hparams) or {"run": source}
    run = TrackedRun(study, config, store, main_metric, None, resume=False, source=source)
    if _already_there(run):
        if on_run:
            on_run(source, run.id, "already imported")
        return run.id
    start = min(w for series in scalars.values() for _, _, w in series)
    tags = {}
    rows: list[Row] = []
    for tag, series in scalars.items():
        split, name = split_of(tag)
        tags[f"{split}/{name}"] = tag
        rows += [(step, split, name, value, wall - start) for step, value, wall in series]
    with run:
        run.facts({"tensorboard": {"source": source, "tags": tags, "start": start}})
        for part in rounds(rows):
            run.add_round(part)
    if on_run:
        on_run(source, run.id, "imported")
    return run.id


def _already_there(run: TrackedRun) -> bool:
    row = run.store.run_row(run.id)
    done = row is not None and row["status"] == "done"
    if done:
        run.store.close()
    return done


# -- out ---------------------------------------------------------------------------------------------------


def export_tensorboard(db: Store, runs: Iterable[Mapping[str, Any]], out: Path) -> list[Path]:
    """Each run as `out/<folder>/` of scalar events (at its steps, with its wall times) and its config as
    hparams; returns the folders."""
    try:
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams
    except ImportError:
        raise TrainlabError("tensorboard is not installed: pip install 'trainlab[tensorboard]'") from None
    folders = []
    for run in runs:
        row = db.run_row(run["id"])
        imported = json.loads(row["facts"] or "{}").get("tensorboard", {})
        folder = out / (imported.get("source") or _folder_name(run))
        start = imported.get("start", row["created_at"])  # wall times are stored as seconds into the run
        writer = SummaryWriter(str(folder))
        try:
            for (split, name), rows in db.metrics([run["id"]]).groupby(["split", "name"], sort=True):
                tag = imported.get("tags", {}).get(f"{split}/{name}", f"{split}/{name}")
                for step, value, wall in rows[["step", "value", "wall_s"]].itertuples(index=False):
                    writer.add_scalar(tag, value, int(step), walltime=start + float(wall))
            config = {k: v for k, v in flatten(json.loads(row["config"])).items() if _plain(v)}
            if config:
                for summary in hparams(config, {}):
                    writer.file_writer.add_summary(summary)
        finally:
            writer.close()
        folders.append(folder)
    return folders


def _plain(value: Any) -> bool:
    return isinstance(value, (bool, int, float, str))


def _folder_name(run: Mapping[str, Any]) -> str:
    label = re.sub(r"[^A-Za-z0-9._=-]+", "_", str(run.get("label") or "run")).strip("_")[:60]
    return f"{int(run['experiment']):02d}-{label}-seed{run['seed']}-{run['id'][:8]}"
