"""nnlib: the finished code of the course *Neural Networks from Scratch* (NumPy only)."""

# First, before NumPy: under `python -m nnlib`, Ctrl-C while importing ends with exit 130, not a traceback.
from nnlib.interrupts import stop_cleanly_while_starting

stop_cleanly_while_starting()

from nnlib.data import MNIST, load_mnist, minibatches, one_hot
from nnlib.layers import Dropout, Linear, Parameter, ReLU
from nnlib.losses import SoftmaxCrossEntropy, cross_entropy, softmax
from nnlib.modelfiles import load_model, save_model
from nnlib.network import Sequential, mlp
from nnlib.optim import SGD, Adam, cosine_schedule, step_schedule
from nnlib.threads import limit_blas_threads
from nnlib.train import History, TrainingDiverged, evaluate, fit

# One BLAS thread unless NNLIB_BLAS_THREADS says otherwise, however nnlib is started (nnlib/threads.py).
limit_blas_threads()

__version__ = "0.1.0"

__all__ = [
    "MNIST", "load_mnist", "minibatches", "one_hot",
    "Dropout", "Linear", "Parameter", "ReLU",
    "SoftmaxCrossEntropy", "cross_entropy", "softmax",
    "Sequential", "load_model", "mlp", "save_model",
    "SGD", "Adam", "cosine_schedule", "step_schedule",
    "History", "TrainingDiverged", "evaluate", "fit",
]
