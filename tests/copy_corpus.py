# ruff: noqa: E501  (source code as data: one line of a string is one line of an answer)
"""What copy detection is measured on (tests/test_grading_copies.py, numbers in TEACHING.md).

COPIES: nnlib's answers as a student hands them in after copying them from nnlib's source:
the exercise's own signature, the argument checks dropped, and then
- "renamed": every variable renamed, nothing else changed;
- "folded": renamed, and the in-place steps folded into expressions or temporaries inlined.
HONEST: answers written without looking at nnlib: the lessons' own solutions are added by the
test; here are the ways the round trip's honest students wrote them and others seen in class
(loops, other NumPy functions, collections.Counter).
"""

from __future__ import annotations

COPIES: dict[str, dict[str, str]] = {
    "scale_images": {
        "renamed": ("def scale_images(images):\n    f = images.reshape(len(images), -1).astype(np.float32)\n"
                    "    f *= 1.0 / 255.0\n    return f\n"),
        "folded": ("def scale_images(images):\n"
                   "    return images.reshape(len(images), -1).astype(np.float32) * (1.0 / 255.0)\n"),
    },
    "one_hot": {
        "renamed": ("def one_hot(labels, classes):\n    out = np.zeros((len(labels), classes), dtype=np.float32)\n"
                    "    out[np.arange(len(labels)), labels] = 1\n    return out\n"),
    },
    "linear_forward": {
        "renamed": "def linear_forward(x, W, b):\n    out = np.matmul(x, W)\n    out += b\n    return out\n",
        "folded": "def linear_forward(x, W, b):\n    return np.matmul(x, W) + b\n",
    },
    "relu": {
        "renamed": "def relu(x):\n    return np.maximum(x, 0)\n",
    },
    "softmax": {
        "renamed": ("def softmax(z):\n    ex = np.exp(z - z.max(axis=1, keepdims=True))\n"
                    "    ex /= ex.sum(axis=1, keepdims=True)\n    return ex\n"),
        "folded": ("def softmax(z):\n    ex = np.exp(z - z.max(axis=1, keepdims=True))\n"
                   "    return ex / ex.sum(axis=1, keepdims=True)\n"),
    },
    "cross_entropy": {
        "renamed": ("def cross_entropy(logits, labels):\n    s = logits - logits.max(axis=1, keepdims=True)\n"
                    "    lp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))\n    idx = np.arange(len(labels))\n"
                    "    return float(-lp[idx, labels].mean())\n"),
        "folded": ("def cross_entropy(logits, labels):\n    s = logits - logits.max(axis=1, keepdims=True)\n"
                   "    return float(-(s - np.log(np.exp(s).sum(axis=1, keepdims=True)))"
                   "[np.arange(len(labels)), labels].mean())\n"),
    },
    "linear_backward": {
        "renamed": ("def linear_backward(dy, x, W):\n"
                    "    return np.matmul(dy, W.T), np.matmul(x.T, dy), np.sum(dy, axis=0)\n"),
    },
    "relu_backward": {
        "renamed": "def relu_backward(g, inp):\n    return g * (inp > 0)\n",
    },
    "softmax_cross_entropy_backward": {
        "renamed": ("def softmax_cross_entropy_backward(logits, labels):\n"
                    "    s = logits - logits.max(axis=1, keepdims=True)\n"
                    "    g = np.exp(s - np.log(np.exp(s).sum(axis=1, keepdims=True)))\n"
                    "    g[np.arange(len(labels)), labels] -= 1.0\n    g *= 1.0 / len(labels)\n    return g\n"),
        "folded": ("def softmax_cross_entropy_backward(logits, labels):\n"
                   "    s = logits - logits.max(axis=1, keepdims=True)\n"
                   "    g = np.exp(s - np.log(np.exp(s).sum(axis=1, keepdims=True)))\n"
                   "    g[np.arange(len(labels)), labels] -= 1.0\n    return g * (1.0 / len(labels))\n"),
    },
    "numerical_gradient": {
        "renamed": ("def numerical_gradient(f, x, eps=1e-6):\n    g = np.zeros_like(x)\n"
                    "    fx, fg = x.reshape(-1), g.reshape(-1)\n    for i in range(x.size):\n        old = fx[i]\n"
                    "        fx[i] = old + eps\n        up = f()\n        fx[i] = old - eps\n        down = f()\n"
                    "        fx[i] = old\n        fg[i] = (up - down) / (2 * eps)\n    return g\n"),
    },
    "dropout_forward": {
        "renamed": ("def dropout_forward(x, p, rng, training):\n    if not training or p == 0.0:\n"
                    "        return x, None\n    kept = rng.random(x.shape, dtype=np.float32) >= p\n"
                    "    m = np.multiply(kept, 1.0 / (1.0 - p), dtype=x.dtype)\n    return x * m, m\n"),
        "folded": ("def dropout_forward(x, p, rng, training):\n    if not training or p == 0.0:\n"
                   "        return x, None\n"
                   "    m = np.multiply(rng.random(x.shape, dtype=np.float32) >= p, 1.0 / (1.0 - p), dtype=x.dtype)\n"
                   "    return x * m, m\n"),
    },
    "dropout_backward": {
        "renamed": "def dropout_backward(dy, m):\n    return dy if m is None else dy * m\n",
    },
    "l2_penalty": {
        "renamed": ("def l2_penalty(params, lam):\n    ws = [q.value for q in params if q.value.ndim == 2]\n"
                    "    return 0.5 * lam * sum(float(np.vdot(a, a)) for a in ws) if lam else 0.0\n"),
    },
    "add_l2_grad": {
        "renamed": ("def add_l2_grad(params, lam):\n    for q in params:\n"
                    "        if lam and q.value.ndim == 2:\n            q.grad += lam * q.value\n"),
    },
    "sgd_momentum_step": {
        "renamed": ("def sgd_momentum_step(w, g, v, lr, momentum):\n    w, v = w.copy(), v.copy()\n"
                    "    v *= momentum\n    v += g\n    w -= lr * v\n    return w, v\n"),
        "folded": ("def sgd_momentum_step(w, g, v, lr, momentum):\n    v = v * momentum + g\n"
                   "    return w - lr * v, v\n"),
    },
    "adam_step": {
        "renamed": ("def adam_step(w, g, m, v, t, lr, beta1, beta2, eps):\n"
                    "    w, m, v = w.copy(), m.copy(), v.copy()\n    m *= beta1\n    m += (1.0 - beta1) * g\n"
                    "    tmp = g * g\n    tmp *= 1.0 - beta2\n    v *= beta2\n    v += tmp\n"
                    "    np.sqrt(v, out=tmp)\n    tmp *= 1.0 / math.sqrt(1.0 - beta2**t)\n    tmp += eps\n"
                    "    np.divide(m, tmp, out=tmp)\n    tmp *= lr / (1.0 - beta1**t)\n    w -= tmp\n"
                    "    return w, m, v\n"),
        "folded": ("def adam_step(w, g, m, v, t, lr, beta1, beta2, eps):\n"
                   "    m = m * beta1 + (1.0 - beta1) * g\n    v = v * beta2 + g * g * (1.0 - beta2)\n"
                   "    d = np.sqrt(v) * (1.0 / math.sqrt(1.0 - beta2**t)) + eps\n"
                   "    w = w - m / d * (lr / (1.0 - beta1**t))\n    return w, m, v\n"),
    },
    "cosine_lr": {
        "renamed": ("def cosine_lr(step, total, lr):\n"
                    "    return 0.5 * lr * (1.0 + math.cos(math.pi * min(step, total) / total))\n"),
    },
    "top_confident_mistakes": {
        "renamed": ("def top_confident_mistakes(probs, labels, k):\n    guess = probs.argmax(axis=1)\n"
                    "    bad = np.flatnonzero(guess != labels)\n    conf = probs[bad, guess[bad]]\n"
                    "    order = np.argsort(-conf, kind='stable')\n    return bad[order[:k]]\n"),
        "folded": ("def top_confident_mistakes(probs, labels, k):\n    guess = probs.argmax(axis=1)\n"
                   "    bad = np.flatnonzero(guess != labels)\n"
                   "    return bad[np.argsort(-probs[bad, guess[bad]], kind='stable')[:k]]\n"),
    },
}

HONEST: dict[str, list[str]] = {
    "count_labels": [
        "from collections import Counter\n\n\ndef count_labels(labels, classes):\n    seen = Counter(labels.tolist())\n"
        "    return np.array([seen[c] for c in range(classes)], dtype=np.int64)\n",
        "def count_labels(labels, classes):\n    counts = np.zeros(classes, dtype=np.int64)\n"
        "    for label in labels:\n        counts[label] += 1\n    return counts\n",
    ],
    "scale_images": [
        "def scale_images(images):\n    n = images.shape[0]\n    return (images.astype(np.float32) / 255.0).reshape(n, -1)\n",
    ],
    "one_hot": [
        "def one_hot(labels, classes):\n    return np.eye(classes, dtype=np.float32)[labels]\n",
        "def one_hot(labels, classes):\n    return (labels[:, None] == np.arange(classes)).astype(np.float32)\n",
    ],
    "linear_forward": ["def linear_forward(x, W, b):\n    return np.dot(x, W) + b\n"],
    "relu": ["def relu(x):\n    return np.where(x > 0, x, 0)\n", "def relu(x):\n    return x * (x > 0)\n"],
    "softmax": [
        "def softmax(z):\n    z = z - np.max(z, axis=1, keepdims=True)\n    e = np.exp(z)\n"
        "    return e / np.sum(e, axis=1, keepdims=True)\n",
        "def softmax(z):\n    out = np.empty_like(z)\n    for i in range(len(z)):\n        e = np.exp(z[i] - z[i].max())\n"
        "        out[i] = e / e.sum()\n    return out\n",
    ],
    "cross_entropy": [
        "def cross_entropy(logits, labels):\n    n = logits.shape[0]\n    m = logits.max(axis=1, keepdims=True)\n"
        "    lse = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))\n"
        "    return float(np.mean(lse - logits[np.arange(n), labels]))\n",
        "def cross_entropy(logits, labels):\n    p = softmax(logits)\n"
        "    return float(-np.mean(np.log(p[np.arange(len(labels)), labels])))\n",
    ],
    "linear_backward": [
        "def linear_backward(dy, x, W):\n    return dy.dot(W.T), x.T.dot(dy), np.sum(dy, axis=0)\n",
    ],
    "relu_backward": [
        "def relu_backward(dy, x):\n    dx = dy.copy()\n    dx[x <= 0] = 0\n    return dx\n",
        "def relu_backward(dy, x):\n    checks = x > 0\n    return dy * checks\n",
    ],
    "softmax_cross_entropy_backward": [
        "def softmax_cross_entropy_backward(logits, labels):\n    p = softmax(logits)\n"
        "    p[np.arange(len(labels)), labels] -= 1\n    return p / len(labels)\n",
    ],
    "numerical_gradient": [
        "def numerical_gradient(f, x, eps=1e-6):\n    grad = np.zeros_like(x)\n    it = np.nditer(x, flags=['multi_index'])\n"
        "    while not it.finished:\n        i = it.multi_index\n        keep = x[i]\n        x[i] = keep + eps\n"
        "        a = f()\n        x[i] = keep - eps\n        b = f()\n        x[i] = keep\n"
        "        grad[i] = (a - b) / (2 * eps)\n        it.iternext()\n    return grad\n",
    ],
    "dropout_forward": [
        "def dropout_forward(x, p, rng, training):\n    if training and p > 0:\n"
        "        mask = (rng.random(x.shape, dtype=np.float32) >= p).astype(x.dtype) / (1 - p)\n"
        "        return x * mask, mask\n    return x, None\n",
    ],
    "l2_penalty": [
        "def l2_penalty(params, lam):\n    weights = [p.value for p in params if p.value.ndim == 2]\n"
        "    return 0.5 * lam * float(sum((w * w).sum() for w in weights))\n",
    ],
    "add_l2_grad": [
        "def add_l2_grad(params, lam):\n    for p in params:\n        if p.value.ndim == 2:\n"
        "            p.grad += lam * p.value\n",
    ],
    "sgd_momentum_step": [
        "def sgd_momentum_step(w, g, v, lr, momentum):\n    new_v = momentum * v + g\n    return w - lr * new_v, new_v\n",
    ],
    "adam_step": [
        "def adam_step(w, g, m, v, t, lr, beta1, beta2, eps):\n    m = beta1 * m + (1 - beta1) * g\n"
        "    v = beta2 * v + (1 - beta2) * np.square(g)\n    mh = m / (1 - beta1 ** t)\n    vh = v / (1 - beta2 ** t)\n"
        "    return w - lr * mh / (np.sqrt(vh) + eps), m, v\n",
    ],
    "cosine_lr": [
        "import math\n\n\ndef cosine_lr(step, total, lr):\n"
        "    return 0.5 * lr * (1 + math.cos(math.pi * min(step, total) / total))\n",
        "def cosine_lr(step, total, lr):\n    if step >= total:\n        return 0.0\n"
        "    return lr * (1 + np.cos(np.pi * step / total)) / 2\n",
    ],
    "top_confident_mistakes": [
        "def top_confident_mistakes(probs, labels, k):\n    pred = probs.argmax(axis=1)\n    conf = probs.max(axis=1)\n"
        "    idx = [i for i in np.argsort(-conf, kind='stable') if pred[i] != labels[i]]\n"
        "    return np.array(idx[:k], dtype=np.int64)\n",
        "def top_confident_mistakes(probs, labels, k):\n    pred = np.argmax(probs, axis=1)\n"
        "    wrong = np.where(pred != labels)[0]\n    conf = np.max(probs[wrong], axis=1)\n"
        "    order = sorted(range(len(wrong)), key=lambda j: -conf[j])\n    return wrong[order][:k]\n",
    ],
}
