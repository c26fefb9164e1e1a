"""Borrowing and tampering answers (issue: 22 of 39 such tricks once earned full marks), shared by
the audit's unit tests and the nbgrader round trip. Each is the source of one solution cell."""

from __future__ import annotations

# exercise -> {trick: solution cell source}
TRICKS: dict[str, dict[str, str]] = {
    "softmax": {
        "import nnlib": "from nnlib.losses import softmax\n",
        "partial": ("import functools\nimport nnlib.losses\n\n"
                    "softmax = functools.partial(nnlib.losses.softmax)\n"),
        "scipy": "from scipy.special import softmax as _s\n\n\ndef softmax(z):\n    return _s(z, axis=1)\n",
        "patched reference": ("import nnlib.losses\n\n\ndef softmax(z):\n    e = np.exp(z)\n"
                              "    return e / e.sum(axis=1, keepdims=True)\n\n\n"
                              "nnlib.losses.softmax = softmax\n"),
    },
    "relu": {
        "bound method": "from nnlib.layers import ReLU\n\nrelu = ReLU().forward\n",
        "callable object": ("from nnlib import layers\n\n\nclass Relu:\n    def __call__(self, x):\n"
                            "        return layers.ReLU().forward(x)\n\n\nrelu = Relu()\n"),
        "staticmethod": "relu = staticmethod(np.abs)\n",
        "replaced checker": ("def relu(x):\n    return x\n\n\n"
                             "checks.relu = lambda fn, **k: print(\"✅ relu: passed\")\n"),
    },
    "cross_entropy": {
        "grading mode off": ("from nnlib.course.checks import grading\n\n"
                             "grading.grading_mode = lambda: False\n\n\n"
                             "def cross_entropy(logits, labels):\n    return 0.0\n"),
        "environment": ("import os\n\nos.environ.pop(\"NBGRADER_EXECUTION\", None)\n\n\n"
                        "def cross_entropy(logits, labels):\n    return 0.0\n"),
        "exec": ("exec(\"def cross_entropy(logits, labels):\\n    import nnlib.losses\\n"
                 "    return nnlib.losses.cross_entropy(logits, labels)\")\n"),
    },
    "linear_forward": {
        "numpy patched": ("np.allclose = lambda *a, **k: True\n\n\n"
                          "def linear_forward(x, W, b):\n    return x\n"),
        "reference list cleared": ("import sys\n\n"
                                   "sys.modules[\"nnlib.course.exercises\"]._declared.clear()\n\n\n"
                                   "def linear_forward(x, W, b):\n    return x @ W + b\n"),
    },
    "accuracy": {
        "sklearn": ("from sklearn.metrics import accuracy_score\n\n\ndef accuracy(probs, labels):\n"
                    "    return float(accuracy_score(labels, probs.argmax(axis=1)))\n"),
    },
    "confusion_matrix": {
        "lesson's sklearn import": (
            "def confusion_matrix(pred, labels, classes):\n"
            "    return sklearn_confusion_matrix(labels, pred, labels=range(classes))\n"),
    },
    "one_hot": {
        "pasted nnlib": '''def one_hot(labels_, classes_=10, dtype=np.float32):
    """Labels -> one-hot."""
    classes_ = int(classes_)
    labels_ = np.asarray(labels_)
    if labels_.ndim != 1 or not np.issubdtype(labels_.dtype, np.integer):
        raise ValueError(f"one_hot: expected a 1-D integer array, got {labels_.dtype} {labels_.shape}")
    if len(labels_) and (labels_.min() < 0 or labels_.max() >= classes_):
        raise ValueError(f"one_hot: labels must be in 0..{classes_ - 1}")
    out = np.zeros((len(labels_), classes_), dtype=dtype)
    out[np.arange(len(labels_)), labels_] = 1
    return out
''',
    },
}
