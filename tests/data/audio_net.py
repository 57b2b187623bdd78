"""A small Conv1d model, as a user would write one (``tests/data/audio_net.py:build``)."""

from torch import nn


def build() -> nn.Module:
    return nn.Sequential(nn.Conv1d(1, 32, 9, stride=4, padding=4), nn.ReLU(),
                         nn.Conv1d(32, 64, 5, padding=2), nn.BatchNorm1d(64), nn.ReLU(),
                         nn.Conv1d(64, 64, 5, stride=2, padding=2), nn.ReLU(),
                         nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(64, 10))


build.input_shape = (1, 1, 16000)
