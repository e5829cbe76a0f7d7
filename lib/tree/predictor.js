// @ts-check
/**
 * A trained soft decision tree's prediction in plain JavaScript with no imports (Frosst &
 * Hinton 2017): the same file is the maths of softtree's `predict`, of the HTML report's page
 * and of the standalone predictor that `softtree export` writes.
 *
 * Shapes: `F` features, `K` classes, `D` depth, `I = 2^D - 1` inner nodes, `L = 2^D` leaves.
 * Heap order: inner node `n` has children `2n+1` (left) and `2n+2` (right); leaf `l` is heap
 * node `I + l`.
 *
 * - inner node `n`: `z_n = beta (x . w_n + b_n)`, `p_n = sigmoid(z_n)`, the probability of
 *   going right;
 * - path probability: `P_root = 1`, `P_left = P_n (1 - p_n)`, `P_right = P_n p_n`;
 * - leaf `l`: the class distribution `Q^l = softmax(phi^l)`;
 * - max-leaf prediction: the argmax class of the leaf with the greatest path probability;
 *   mixture prediction: the argmax of `sum_l P^l Q^l`.
 * - a regression tree (`task: "regression"`, one target): leaf `l` holds the value
 *   `phi^l * std + mean` in the target's units (`phi` is in standardised units); max-leaf
 *   predicts the most probable leaf's value, mixture `sum_l P^l phi^l * std + mean`.
 *
 * Sums run in float64 over float32 weights, in the order of softtree's `route`, so in one
 * JavaScript engine the two give the same numbers (engines may differ in the last bit of
 * `Math.exp`).
 *
 * @module
 */

/**
 * A tree as JSON (`softtree-predictor`, version 1): what `loadModel` reads.
 * @typedef {object} ModelJson
 * @property {string} format `"softtree-predictor"`.
 * @property {number} version 1.
 * @property {number} depth `D`.
 * @property {number} features `F`.
 * @property {number} classes `K`.
 * @property {string[]} classNames `K` names.
 * @property {number} beta The inverse temperature.
 * @property {ArrayLike<number>} w Filters `[I, F]`, row-major.
 * @property {ArrayLike<number>} b Biases `[I]`.
 * @property {ArrayLike<number>} phi Leaf logits `[L, K]`.
 * @property {Record<string, unknown>} [input] What the inputs look like (image shape,
 *   feature names and scaling); not used by the maths.
 * @property {"classification" | "regression"} [task] What the leaves hold (default
 *   classification).
 * @property {{ name: string, mean: number, std: number }} [target] A regression tree's target:
 *   its name and the standardisation its leaves are in.
 */

/**
 * A loaded tree, ready to predict.
 * @typedef {object} Model
 * @property {number} depth
 * @property {number} features
 * @property {number} classes
 * @property {string[]} classNames
 * @property {number} beta
 * @property {Float32Array} w `[I, F]`.
 * @property {Float32Array} b `[I]`.
 * @property {Float32Array} phi `[L, K]`.
 * @property {Float64Array} q Leaf distributions `softmax(phi)`, `[L, K]`.
 * @property {Int32Array} leafClass The argmax class of each leaf, `[L]` (first on ties).
 * @property {boolean} regression Whether the leaves hold values (a regression tree).
 * @property {{ name: string, mean: number, std: number } | null} target A regression tree's
 *   target, else `null`.
 * @property {Float64Array | null} values A regression tree's leaf values in the target's units,
 *   `[L]`, else `null`.
 */

/**
 * A prediction, with the reasons for it.
 * @typedef {object} Prediction
 * @property {number} class The max-leaf prediction's class index.
 * @property {string} className Its name.
 * @property {number[]} probabilities The class distribution of that leaf, `[K]`.
 * @property {number} leaf The leaf with the greatest path probability, in `[0, L)`.
 * @property {number} leafProbability That leaf's path probability.
 * @property {number[]} path Heap nodes from the root to that leaf, `D + 1` of them.
 * @property {number} mixtureClass The mixture prediction's class index.
 * @property {number[]} mixture The mixture distribution `sum_l P^l Q^l`, `[K]`.
 * @property {number[]} logits `z_n` of every inner node, `[I]`.
 * @property {number[]} right `p_n`, the probability of going right, `[I]`.
 * @property {number[]} reach The path probability of every heap node, `[I + L]`.
 * @property {number} [value] A regression tree's max-leaf prediction: the leaf's value, in the
 *   target's units.
 * @property {number} [mixtureValue] A regression tree's mixture prediction, in the target's
 *   units.
 */

/**
 * Checks a tree's JSON and prepares it for {@link predictTree}.
 *
 * @param {ModelJson} json The tree, e.g. `JSON.parse` of an exported `tree.json`.
 * @returns {Model} The loaded tree.
 * @throws {RangeError} When the JSON is not a softtree predictor or its arrays do not fit.
 * @example
 * ```js
 * const model = loadModel(JSON.parse(await Deno.readTextFile("predictor/tree.json")));
 * ```
 */
export function loadModel(json) {
  if (!json || json.format !== "softtree-predictor" || json.version !== 1) {
    throw new RangeError("not a softtree predictor (format softtree-predictor, version 1)");
  }
  const { depth, features, classes } = json;
  const inner = 2 ** depth - 1;
  const leaves = 2 ** depth;
  const want = { w: inner * features, b: inner, phi: leaves * classes };
  for (const [name, length] of Object.entries(want)) {
    const got =
      /** @type {Record<string, ArrayLike<number>>} */ (/** @type {unknown} */ (json))[name];
    if (!got || got.length !== length) {
      throw new RangeError(
        `"${name}" must hold ${length} numbers for depth ${depth}, ${features} features and ${classes} classes`,
      );
    }
  }
  const phi = Float32Array.from(json.phi);
  const q = new Float64Array(leaves * classes);
  const leafClass = new Int32Array(leaves);
  for (let l = 0; l < leaves; l++) {
    let max = -Infinity;
    for (let k = 0; k < classes; k++) {
      const v = phi[l * classes + k];
      if (v > max) {
        max = v;
        leafClass[l] = k;
      }
    }
    let sum = 0;
    for (let k = 0; k < classes; k++) {
      sum += q[l * classes + k] = Math.exp(phi[l * classes + k] - max);
    }
    for (let k = 0; k < classes; k++) q[l * classes + k] /= sum;
  }
  const regression = json.task === "regression";
  const t = json.target;
  if (regression && (classes !== 1 || !t || !(t.std > 0))) {
    throw new RangeError(
      "a regression tree needs one target and its standardisation (target.mean, target.std > 0)",
    );
  }
  const target = regression && t ? { name: t.name, mean: t.mean, std: t.std } : null;
  return {
    depth,
    features,
    classes,
    classNames: json.classNames?.length === classes
      ? json.classNames
      : Array.from({ length: classes }, (_, k) => String(k)),
    beta: Math.fround(json.beta),
    w: Float32Array.from(json.w),
    b: Float32Array.from(json.b),
    phi,
    q,
    leafClass,
    regression,
    target,
    values: target ? Float64Array.from(phi, (v) => v * target.std + target.mean) : null,
  };
}

/**
 * The route of one input through a tree's inner nodes, in float64: every node's logit and
 * probability of going right, every heap node's path probability, the leaf with the greatest
 * path probability (the first on ties) and the heap nodes from the root to it. The one
 * routing loop of softtree: `predictTree` and the library's `route` both run it.
 *
 * @param {{ depth: number, w: ArrayLike<number>, b: ArrayLike<number>, beta: number }} tree
 *   Depth `D`, filters `[I, F]`, biases `[I]`, the inverse temperature.
 * @param {ArrayLike<number>} x The input `[F]`.
 * @returns {{ logits: Float64Array, right: Float64Array, reach: Float64Array, leaf: number, path: number[] }}
 *   `z_n` and `p_n` `[I]`, path probabilities `[I + L]`, the max leaf in `[0, L)`, its path.
 * @example
 * ```js
 * const { leaf, path } = routeInput({ depth: 2, w, b, beta: 1 }, x);
 * ```
 */
export function routeInput(tree, x) {
  const { depth, w, b, beta } = tree;
  const I = 2 ** depth - 1;
  const L = I + 1;
  const F = w.length / I;
  const logits = new Float64Array(I);
  const right = new Float64Array(I);
  const reach = new Float64Array(I + L);
  reach[0] = 1;
  for (let n = 0; n < I; n++) {
    let s = b[n];
    const off = n * F;
    for (let f = 0; f < F; f++) s += x[f] * w[off + f];
    logits[n] = beta * s;
    right[n] = 1 / (1 + Math.exp(-logits[n]));
    reach[2 * n + 1] = reach[n] * (1 - right[n]);
    reach[2 * n + 2] = reach[n] * right[n];
  }
  let leaf = 0;
  for (let l = 1; l < L; l++) if (reach[I + l] > reach[I + leaf]) leaf = l;
  const path = [];
  for (let node = I + leaf;; node = (node - 1) >> 1) {
    path.unshift(node);
    if (node === 0) break;
  }
  return { logits, right, reach, leaf, path };
}

/**
 * Routes one input through the tree and predicts its class (a regression tree: its value too,
 * as `value` and `mixtureValue`).
 *
 * @param {Model} model A tree from {@link loadModel}.
 * @param {ArrayLike<number>} x The input `[F]`, scaled like the training data.
 * @returns {Prediction} The prediction and its path.
 * @throws {RangeError} When `x` does not hold `F` values.
 * @example
 * ```js
 * const { className, leaf, path } = predictTree(model, new Float32Array(model.features));
 * ```
 */
export function predictTree(model, x) {
  const { depth, features: F, classes: K, q } = model;
  if (!x || x.length !== F) {
    throw new RangeError(`the input holds ${x?.length ?? 0} values, the tree reads ${F}`);
  }
  const I = 2 ** depth - 1;
  const L = I + 1;
  const { logits, right, reach, leaf, path } = routeInput(model, x);
  const mixture = new Array(K).fill(0);
  for (let l = 0; l < L; l++) {
    for (let k = 0; k < K; k++) mixture[k] += reach[I + l] * q[l * K + k];
  }
  let mixtureClass = 0;
  for (let k = 1; k < K; k++) if (mixture[k] > mixture[mixtureClass]) mixtureClass = k;
  const cls = model.leafClass[leaf];
  /** @type {{ value?: number, mixtureValue?: number }} */
  const values = {};
  if (model.regression && model.target && model.values) {
    let y = 0;
    for (let l = 0; l < L; l++) y += reach[I + l] * model.phi[l];
    values.value = model.values[leaf];
    values.mixtureValue = y * model.target.std + model.target.mean;
  }
  return {
    class: cls,
    className: model.classNames[cls],
    probabilities: Array.from(q.subarray(leaf * K, (leaf + 1) * K)),
    leaf,
    leafProbability: reach[I + leaf],
    path,
    mixtureClass,
    mixture,
    logits: Array.from(logits),
    right: Array.from(right),
    reach: Array.from(reach),
    ...values,
  };
}
