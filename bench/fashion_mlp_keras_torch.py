#!/usr/bin/python3
"""The classic Keras Fashion-MNIST MLP (examples/fashion_mnist_mlp.py) replicated in
PyTorch with Keras 2.2.4's semantics, as a yardstick for `lamina run` on that script.

    /usr/bin/python3 bench/fashion_mlp_keras_torch.py --seeds 1,2,3          # replication
    /usr/bin/python3 bench/fashion_mlp_keras_torch.py --parity --lamina build/lamina

Replication (per seed): Dense(512, relu) -> Dropout(0.2) -> Dense(512, relu) -> Dropout(0.2)
-> Dense(10, softmax); glorot_uniform kernels (U(+-sqrt(6/(fan_in+fan_out)))), zero biases;
inverted dropout; Keras' categorical crossentropy (renormalise, clip to [1e-7, 1-1e-7]);
Keras 2.2.4 RMSprop (lr 1e-3, rho 0.9, a = rho*a + (1-rho)*g^2, p -= lr*g/(sqrt(a)+1e-7));
batch 128, a fresh shuffle of the 60,000 training rows every epoch, 5 epochs; test accuracy
of the final weights on the 10,000 test rows (dropout off). Prints one JSON line per seed
and a summary line with the median.

Parity (--parity): the same network with both dropout rates 0 and shuffle=False, started
from the same glorot weights in torch and in lamina (weights passed as .npy files to a
lamina script that calls layer.set_weights), trained --parity-epochs epochs (default 1);
prints both frameworks' per-epoch loss and the test loss/accuracy, so any difference in the
forward pass, the loss, the gradients or the RMSprop update shows up as a gap larger than
float32 rounding.

Data: ../shared/data/fashion-mnist (or --data DIR), the Debian dataset-fashion-mnist IDX files.
"""
import argparse
import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_idx(path):
    with (gzip.open(path) if path.endswith(".gz") else open(path, "rb")) as f:
        raw = f.read()
    nd = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * nd).reshape(shape)


def load_data(d):
    def f(name):
        p = os.path.join(d, name + ".gz")
        return load_idx(p if os.path.exists(p) else os.path.join(d, name))
    xtr = f("train-images-idx3-ubyte").reshape(60000, 784).astype(np.float32) / 255
    xte = f("t10k-images-idx3-ubyte").reshape(10000, 784).astype(np.float32) / 255
    ytr = np.eye(10, dtype=np.float32)[f("train-labels-idx1-ubyte")]
    yte = np.eye(10, dtype=np.float32)[f("t10k-labels-idx1-ubyte")]
    return xtr, ytr, xte, yte


def glorot(gen, fan_in, fan_out):
    lim = np.sqrt(6.0 / (fan_in + fan_out))
    return ((torch.rand(fan_in, fan_out, generator=gen, dtype=torch.float64) * 2 - 1) * lim).float()


class KerasMLP:
    """Weights in Keras layout: kernel (in, out), bias (out,)."""

    def __init__(self, gen, rate):
        dims = [(784, 512), (512, 512), (512, 10)]
        self.params = []
        for i, o in dims:
            self.params += [glorot(gen, i, o).requires_grad_(), torch.zeros(o, requires_grad=True)]
        self.rate = rate
        self.acc = [torch.zeros_like(p) for p in self.params]

    def forward(self, x, training, gen=None):
        w1, b1, w2, b2, w3, b3 = self.params
        h = torch.relu(x @ w1 + b1)
        h = self.dropout(h, training, gen)
        h = torch.relu(h @ w2 + b2)
        h = self.dropout(h, training, gen)
        return torch.softmax(h @ w3 + b3, dim=-1)

    def dropout(self, h, training, gen):
        if not training or not (0 < self.rate < 1):
            return h
        keep = (torch.rand(h.shape, generator=gen) >= self.rate).float()
        return h * keep / (1 - self.rate)

    @staticmethod
    def cce(y, p):  # keras.backend.categorical_crossentropy (TF), then the batch mean
        p = p / p.sum(-1, keepdim=True)
        p = torch.clamp(p, 1e-7, 1 - 1e-7)
        return (-(y * torch.log(p)).sum(-1)).mean()

    def rmsprop(self, lr=1e-3, rho=0.9, eps=1e-7):  # keras/optimizers.py 2.2.4
        with torch.no_grad():
            for p, a in zip(self.params, self.acc):
                g = p.grad
                a.mul_(rho).add_((1 - rho) * g * g)
                p.sub_(lr * g / (torch.sqrt(a) + eps))
                p.grad = None

    def evaluate(self, x, y, bs=32):
        tot_loss = tot_acc = 0.0
        with torch.no_grad():
            for b0 in range(0, len(x), bs):
                xb, yb = x[b0:b0 + bs], y[b0:b0 + bs]
                p = self.forward(xb, False)
                tot_loss += float(self.cce(yb, p)) * len(xb)
                tot_acc += float((p.argmax(-1) == yb.argmax(-1)).float().sum())
        return tot_loss / len(x), tot_acc / len(x)


def train(model, x, y, epochs, bs, shuffle, gen):
    n = len(x)
    hist = []
    for _ in range(epochs):
        idx = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
        s_loss = s_acc = 0.0
        for b0 in range(0, n, bs):
            r = idx[b0:b0 + bs]
            xb, yb = x[r], y[r]
            p = model.forward(xb, True, gen)
            loss = model.cce(yb, p)
            s_loss += float(loss) * len(r)
            s_acc += float((p.argmax(-1) == yb.argmax(-1)).float().sum())
            loss.backward()
            model.rmsprop()
        hist.append((s_loss / n, s_acc / n))
    return hist


def replicate(args, data):
    xtr, ytr, xte, yte = (torch.from_numpy(a) for a in data)
    accs = []
    for seed in args.seeds:
        t0 = time.time()
        gen = torch.Generator().manual_seed(seed)
        m = KerasMLP(gen, 0.2)
        hist = train(m, xtr, ytr, args.epochs, 128, True, gen)
        tl, ta = m.evaluate(xte, yte)
        accs.append(ta)
        print(json.dumps({"seed": seed, "epochs": args.epochs, "train_loss": [round(h[0], 4) for h in hist],
                          "train_acc": [round(h[1], 4) for h in hist], "test_loss": round(tl, 4),
                          "test_acc": ta, "wall_s": round(time.time() - t0, 1)}), flush=True)
    print(json.dumps({"summary": "torch, Keras 2.2.4 semantics", "seeds": args.seeds,
                      "test_acc_median": statistics.median(accs), "test_acc_min": min(accs),
                      "test_acc_max": max(accs)}))


PARITY_SCRIPT = """
import numpy as np
from keras.datasets import fashion_mnist
from keras.models import Sequential
from keras.layers import Dense, Dropout
from keras.optimizers import RMSprop
import keras
(x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
x_train = x_train.reshape(60000, 784).astype('float32')
x_test = x_test.reshape(10000, 784).astype('float32')
x_train /= 255
x_test /= 255
y_train = keras.utils.to_categorical(y_train, 10)
y_test = keras.utils.to_categorical(y_test, 10)
model = Sequential()
model.add(Dense(512, activation='relu', input_shape=(784,)))
model.add(Dropout(0.0))
model.add(Dense(512, activation='relu'))
model.add(Dropout(0.0))
model.add(Dense(10, activation='softmax'))
model.layers[0].set_weights([np.load('DIR/w0.npy'), np.load('DIR/b0.npy')])
model.layers[2].set_weights([np.load('DIR/w1.npy'), np.load('DIR/b1.npy')])
model.layers[4].set_weights([np.load('DIR/w2.npy'), np.load('DIR/b2.npy')])
model.compile(loss='categorical_crossentropy', optimizer=RMSprop(), metrics=['accuracy'])
h = model.fit(x_train, y_train, batch_size=128, epochs=EPOCHS, verbose=0, shuffle=False)
print('LOSS', h.history['loss'])
score = model.evaluate(x_test, y_test, verbose=0)
print('TEST', score[0], score[1])
"""


def parity(args, data):
    xtr, ytr, xte, yte = (torch.from_numpy(a) for a in data)
    gen = torch.Generator().manual_seed(args.seeds[0])
    m = KerasMLP(gen, 0.0)
    with tempfile.TemporaryDirectory() as d:
        for i in range(3):
            np.save(os.path.join(d, "w%d.npy" % i), m.params[2 * i].detach().numpy())
            np.save(os.path.join(d, "b%d.npy" % i), m.params[2 * i + 1].detach().numpy())
        script = os.path.join(d, "parity.py")
        with open(script, "w") as f:
            f.write(PARITY_SCRIPT.replace("DIR", d).replace("EPOCHS", str(args.parity_epochs)))
        env = dict(os.environ, LAMINA_FASHION_MNIST=args.data)
        out = subprocess.run([args.lamina, "run", "--threads", "1", script], env=env,
                             capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit("lamina failed:\n" + out.stdout + out.stderr)
        lam_loss = [float(v) for v in re.search(r"LOSS \[(.*)\]", out.stdout).group(1).split(",")]
        lam_test = [float(v) for v in re.search(r"TEST (\S+) (\S+)", out.stdout).groups()]
    hist = train(m, xtr, ytr, args.parity_epochs, 128, False, gen)
    tl, ta = m.evaluate(xte, yte)
    print(json.dumps({"parity": "no dropout, no shuffle, same initial weights",
                      "epochs": args.parity_epochs,
                      "torch_loss": [h[0] for h in hist], "lamina_loss": lam_loss,
                      "torch_test": [tl, ta], "lamina_test": lam_test}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "fashion-mnist"))
    ap.add_argument("--seeds", default="1,2,3", type=lambda s: [int(v) for v in s.split(",")])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--parity", action="store_true")
    ap.add_argument("--parity-epochs", type=int, default=1)
    ap.add_argument("--lamina", default=os.path.join(ROOT, "build", "lamina"))
    args = ap.parse_args()
    args.data = os.path.realpath(args.data)
    torch.set_num_threads(args.threads)
    if not os.path.exists(os.path.join(args.data, "train-labels-idx1-ubyte.gz")) and \
            not os.path.exists(os.path.join(args.data, "train-labels-idx1-ubyte")):
        sys.exit("Fashion-MNIST not found in %s (use --data)" % args.data)
    data = load_data(args.data)
    if args.parity:
        parity(args, data)
    else:
        replicate(args, data)


if __name__ == "__main__":
    main()
