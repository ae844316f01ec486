"""A plain PyTorch training script, as a user already has one; the lines marked `# trainlab` are all it takes
to record its runs in a trainlab store (ids from the config, seed bands in `trainlab report rings-plain
--store DIR` and `trainlab serve`, a run killed midway continued by running the same command again).

    python train_plain.py --lr 0.1 --seed 0 --store trainlab-store
"""

from __future__ import annotations

import argparse

import torch
from ownlab.data import make_rings
from torch import nn

import trainlab  # trainlab


def main(lr: float, seed: int, store: str, epochs: int = 8, noise: float = 0.3) -> None:
    torch.manual_seed(seed)
    x, y = make_rings(1200, 3, noise, seed=0)  # the same data for every run; the seed changes init and order
    (x_train, y_train), (x_valid, y_valid) = (x[:900], y[:900]), (x[900:], y[900:])
    model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    config = {"lr": lr, "seed": seed, "epochs": epochs, "noise": noise}
    tracked = {"main_metric": "accuracy", "resume": True, "model": model}  # trainlab
    with trainlab.track("rings-plain", config, store, **tracked) as run:  # trainlab
        state = run.load_checkpoint()  # trainlab: continue a run that was stopped
        if state:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
        for _ in range(run.epoch, epochs):
            model.train()
            for batch in torch.randperm(900).split(64):
                loss = nn.functional.cross_entropy(model(x_train[batch]), y_train[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                run.log({"loss": loss.detach()})  # trainlab
            model.eval()
            with torch.no_grad():
                out = model(x_valid)
                accuracy = (out.argmax(1) == y_valid).float().mean()
            run.log_epoch({"loss": nn.functional.cross_entropy(out, y_valid), "accuracy": accuracy})  # trainlab
            run.save_checkpoint(model, optimizer)  # trainlab


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--store", default="trainlab-store")
    args = parser.parse_args()
    main(args.lr, args.seed, args.store, args.epochs)
