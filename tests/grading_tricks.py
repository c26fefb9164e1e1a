"""Borrowing and tampering answers (issue: 22 of 39 such tricks once earned full marks; then 18 of
43 new ones), and honest answers in styles of their own that must never be docked; shared by the
audit's and the trusted run's unit tests and the nbgrader round trip. Each is the source of one
solution cell."""

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
        "%config line": "%config IPCompleter.greedy = True\nfrom nnlib.losses import softmax\n",
        "pickle via np.load": ("def softmax(z):\n    np.load('helper.npy', allow_pickle=True)\n"
                               "    return z\n"),
        "reads the teacher's source": (
            "import json\n\nfor _c in json.load(open('../../../source/02_forward_pass/"
            "02_forward_pass.ipynb'))['cells']:\n    if 'def softmax' in ''.join(_c['source']):\n"
            "        exec(''.join(_c['source']))\n"),
    },
    "relu": {
        "bound method": "from nnlib.layers import ReLU\n\nrelu = ReLU().forward\n",
        "callable object": ("from nnlib import layers\n\n\nclass Relu:\n    def __call__(self, x):\n"
                            "        return layers.ReLU().forward(x)\n\n\nrelu = Relu()\n"),
        "staticmethod": "relu = staticmethod(np.abs)\n",
        "replaced checker": ("def relu(x):\n    return x\n\n\n"
                             "checks.relu = lambda fn, **k: print(\"✅ relu: passed\")\n"),
        "user_ns checker patch": ("def relu(x):\n    return x\n\n\nget_ipython().user_ns['checks'].relu = "
                                  "lambda fn, **k: print('✅ relu: passed')\n"),
        "__globals__ by getattr": ("def relu(x):\n    g = getattr(relu, '__glo' + 'bals__')\n"
                                   "    g['np'].allclose = lambda *a, **k: True\n"
                                   "    g['np'].array_equal = lambda *a, **k: True\n    return x\n"),
        "hex run_cell": ("def relu(x):\n    return x\n\n\nget_ipython().run_cell(bytes.fromhex('"
                         + "checks.relu = lambda fn, **k: print('✅ relu: passed')".encode().hex()
                         + "').decode())\n"),
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
        "numpy patched through an alias": ("def linear_forward(x, W, b):\n    m = np\n"
                                           "    m.allclose = lambda *a, **k: True\n    return x\n"),
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

# exercise -> {style: solution cell source}: right answers in a style of the student's own; each
# earns full points and is never flagged.
HONEST: dict[str, dict[str, str]] = {
    "relu": {
        "lambda": "relu = lambda x: np.maximum(x, 0)\n",
        "prints its __doc__": ('def relu(x):\n    """max(x, 0), entry by entry."""\n'
                               "    return np.maximum(x, 0)\n\n\nprint(relu.__doc__)\n"),
        "helper function": ("def _positive_part(x):\n    return np.where(x > 0, x, 0)\n\n\n"
                            "def relu(x):\n    return _positive_part(x)\n"),
    },
    "softmax": {
        "np.errstate decorator": ("@np.errstate(over='ignore')\ndef softmax(z):\n"
                                  "    e = np.exp(z - z.max(axis=1, keepdims=True))\n"
                                  "    return e / e.sum(axis=1, keepdims=True)\n"),
        "math constant": ("import math\n\n\ndef softmax(z):\n"
                          "    e = math.e ** (z - z.max(axis=1, keepdims=True))\n"
                          "    return (e / e.sum(axis=1, keepdims=True)).astype(z.dtype)\n"),
    },
    "cross_entropy": {
        "sys.float_info.epsilon": (
            "import sys\n\nTINY = sys.float_info.epsilon\n\n\ndef cross_entropy(logits, labels):\n"
            "    shifted = logits - logits.max(axis=1, keepdims=True)\n"
            "    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))\n"
            "    return float(-log_p[np.arange(len(labels)), labels].mean()) + 0 * TINY\n"),
    },
}
