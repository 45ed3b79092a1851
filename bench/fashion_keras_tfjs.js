// An independent Keras implementation as a yardstick for the two Fashion-MNIST targets:
// TensorFlow.js's layers API (a port of Keras: the same layer defaults, glorot_uniform
// kernels, zero biases, inverted dropout, Keras' categorical crossentropy) running the
// recipes of examples/fashion_mnist_mlp.py and examples/fashion_mnist_cnn.py.
//
//   mkdir /tmp/tfjs && cd /tmp/tfjs && npm init -y && \
//     npm install @tensorflow/tfjs@4.22.0 @tensorflow/tfjs-backend-wasm@4.22.0
//   NODE_PATH=/tmp/tfjs/node_modules node bench/fashion_keras_tfjs.js mlp SEED [wasm|cpu]
//
// The MLP uses Keras 2.2.4's RMSprop written out below (tfjs' own rmsprop puts epsilon
// inside the square root). The CNN needs the 'cpu' backend (the wasm backend has no
// Conv2DBackpropFilter) and is very slow there. Data: $FASHION, else
// ../shared/data/fashion-mnist (the Debian dataset-fashion-mnist IDX files).
// Measured 2026-11-29, tfjs 4.22.0 wasm, seeds 1-3, test accuracy after 5 epochs:
// 0.8660, 0.8559, 0.8716 (median 0.866; lamina's median over seeds 1-5 is 0.863).
const tf = require('@tensorflow/tfjs');
require('@tensorflow/tfjs-backend-wasm');
const fs = require('fs'), zlib = require('zlib');
const [kind, seedS, backend] = [process.argv[2], process.argv[3] || '1', process.argv[4] || 'wasm'];
const dir = process.env.FASHION || require('path').join(__dirname, '../../shared/data/fashion-mnist');
function idx(name) { return zlib.gunzipSync(fs.readFileSync(dir + '/' + name)); }
function images(name) { const b = idx(name); const n = b.readUInt32BE(4);
  const f = new Float32Array(n * 784); for (let i = 0; i < n * 784; i++) f[i] = b[16 + i] / 255; return [f, n]; }
function labels(name) { const b = idx(name); const n = b.readUInt32BE(4);
  return Int32Array.from(b.subarray(8, 8 + n)); }
// Keras 2.2.4 RMSprop: a = rho*a + (1-rho)*g^2; p -= lr*g/(sqrt(a)+eps), eps = 1e-7
class KerasRMSprop extends tf.Optimizer {
  constructor(lr) { super(); this.lr = lr; this.acc = {}; }
  applyGradients(vg) {
    const names = Array.isArray(vg) ? vg.map(v => v.name) : Object.keys(vg);
    tf.tidy(() => names.forEach((name, i) => {
      const p = tf.engine().registeredVariables[name];
      const g = Array.isArray(vg) ? vg[i].tensor : vg[name];
      if (!this.acc[name]) this.acc[name] = tf.keep(tf.zerosLike(p).variable(false));
      const a = this.acc[name];
      const na = a.mul(0.9).add(g.square().mul(0.1));
      a.assign(na);
      p.assign(p.sub(g.mul(this.lr).div(na.sqrt().add(1e-7))));
    }));
    this.incrementIterations();
  }
  getConfig() { return {}; }
  static get className() { return 'KerasRMSprop'; }
}
(async () => {
  await tf.setBackend(backend); await tf.ready();
  if (backend === 'wasm') require('@tensorflow/tfjs-backend-wasm').setThreadsCount?.(1);
  tf.util.seedrandom?.(seedS);
  // seeded initialisers: tfjs' glorotUniform takes a seed
  const seed = parseInt(seedS);
  let k = 0; const gu = () => tf.initializers.glorotUniform({seed: seed * 100 + (k++)});
  const [xtr, ntr] = images('train-images-idx3-ubyte.gz'), ytr = labels('train-labels-idx1-ubyte.gz');
  const [xte, nte] = images('t10k-images-idx3-ubyte.gz'), yte = labels('t10k-labels-idx1-ubyte.gz');
  const model = tf.sequential();
  let xs, xt, bs, opt, loss, ys, yt;
  if (kind === 'mlp') {
    model.add(tf.layers.dense({units: 512, activation: 'relu', inputShape: [784], kernelInitializer: gu()}));
    model.add(tf.layers.dropout({rate: 0.2, seed: seed}));
    model.add(tf.layers.dense({units: 512, activation: 'relu', kernelInitializer: gu()}));
    model.add(tf.layers.dropout({rate: 0.2, seed: seed + 1}));
    model.add(tf.layers.dense({units: 10, activation: 'softmax', kernelInitializer: gu()}));
    xs = tf.tensor2d(xtr, [ntr, 784]); xt = tf.tensor2d(xte, [nte, 784]);
    ys = tf.oneHot(tf.tensor1d(ytr, 'int32'), 10); yt = tf.oneHot(tf.tensor1d(yte, 'int32'), 10);
    bs = 128; opt = new KerasRMSprop(0.001); loss = 'categoricalCrossentropy';
  } else {
    model.add(tf.layers.conv2d({filters: 32, kernelSize: 3, activation: 'relu', inputShape: [28, 28, 1], kernelInitializer: gu()}));
    model.add(tf.layers.maxPooling2d({poolSize: 2}));
    model.add(tf.layers.conv2d({filters: 64, kernelSize: 3, activation: 'relu', kernelInitializer: gu()}));
    model.add(tf.layers.maxPooling2d({poolSize: 2}));
    model.add(tf.layers.flatten());
    model.add(tf.layers.dense({units: 128, activation: 'relu', kernelInitializer: gu()}));
    model.add(tf.layers.dense({units: 10, activation: 'softmax', kernelInitializer: gu()}));
    xs = tf.tensor4d(xtr, [ntr, 28, 28, 1]); xt = tf.tensor4d(xte, [nte, 28, 28, 1]);
    ys = tf.oneHot(tf.tensor1d(ytr, 'int32'), 10); yt = tf.oneHot(tf.tensor1d(yte, 'int32'), 10);
    bs = 64; opt = tf.train.adam(0.001, 0.9, 0.999, 1e-7); loss = 'categoricalCrossentropy';
  }
  model.compile({optimizer: opt, loss, metrics: ['accuracy']});
  const t0 = Date.now();
  await model.fit(xs, ys, {batchSize: bs, epochs: 5, shuffle: true, validationData: [xt, yt], verbose: 0,
    callbacks: {onEpochEnd: (e, l) => console.log(`${kind} seed ${seed} epoch ${e + 1} loss ${l.loss.toFixed(4)} acc ${l.acc.toFixed(4)} val_acc ${l.val_acc.toFixed(4)} (${((Date.now() - t0) / 1000).toFixed(0)} s)`)}});
  const r = model.evaluate(xt, yt, {batchSize: 256});
  console.log(`${kind} seed ${seed} test_acc ${(await r[1].data())[0].toFixed(4)} backend ${tf.getBackend()} tfjs ${tf.version.tfjs}`);
})();
