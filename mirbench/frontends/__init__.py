"""Batched torch feature extractors, each checked against librosa; registered in `mirbench.registry.frontends`."""

from mirbench.frontends.base import Frontend
from mirbench.frontends.fma import FMAFeatures
from mirbench.frontends.mel import LogMel
from mirbench.frontends.mfcc import MFCC
from mirbench.frontends.stft import STFTMagnitude
from mirbench.frontends.waveform import Waveform

__all__ = ["Frontend", "STFTMagnitude", "LogMel", "MFCC", "Waveform", "FMAFeatures"]
