/**
 * A trained tree as an ONNX model (`tree.onnx`) made of standard operators only, for ONNX
 * Runtime and every other ONNX runtime.
 *
 * The graph (opset 13), in float64 inside so that it routes as softtree's float64 predictor
 * does:
 *
 * ```
 * input [N, F] float32 --Cast--> double --(x - min) * 1/(max - min)--> x      (tabular only)
 * z = beta * (x W^T + b)  [N, I]          MatMul, Add, Mul
 * p = Sigmoid(z)          [N, I]          the probability of going right
 * P = prod_d (a_d + s_d * Gather(p, node_d))   [N, L]   path probabilities, one factor per level
 * leaf = ArgMax(P)        [N]             the max-leaf (first on ties, as softtree)
 * class = Gather(leafClass, leaf), probabilities = Gather(Q, leaf)
 * mixture = P Q  [N, K],  mixture_class = ArgMax(mixture)
 * ```
 *
 * where `node_d[l]` is leaf `l`'s ancestor at depth `d`, and `(a, s)` is `(0, 1)` where the
 * path goes right there (factor `p`) and `(1, -1)` where it goes left (`1 - p`).
 *
 * A regression tree's leaves hold standardised values `phi [L]`; the graph gives them in the
 * target's units, the standardisation inside:
 *
 * ```
 * value = Gather(phi, leaf) * std + mean          [N] float64   max-leaf
 * mixture_value = (P phi) * std + mean            [N] float64   mixture
 * ```
 *
 * @module
 */
import { writeFileAtomic } from "../io/atomic.ts";
import type { DataInfo } from "../io/types.ts";
import { leafClasses } from "../tree/inspect.ts";
import type { TreeConfig, TreeParams } from "../tree/types.ts";
import { isRegression, treeSizes } from "../tree/types.ts";
import { onnx } from "./_onnx_deps.ts";

/** What the ONNX export needs of a tree. */
export interface OnnxTree {
  config: Pick<TreeConfig, "depth" | "features" | "classes" | "task">;
  params: TreeParams;
  data: DataInfo;
  meta?: Record<string, unknown>;
}

/** The names of the graph's input and outputs. */
export const ONNX_NAMES = {
  input: "input",
  class: "class",
  probabilities: "probabilities",
  leaf: "leaf",
  leafProbability: "leaf_probability",
  mixtureClass: "mixture_class",
  mixture: "mixture",
} as const;

/**
 * The outputs of a regression tree's graph besides `leaf` and `leaf_probability` (it has no
 * `class`, `probabilities`, `mixture_class` or `mixture`).
 */
export const ONNX_REGRESSION_NAMES = {
  value: "value",
  mixtureValue: "mixture_value",
} as const;

/** The opset the graph is written for. */
export const ONNX_OPSET = 13;

const FLOAT = 1, INT64 = 7, DOUBLE = 11;

function tensor(
  name: string,
  dims: number[],
  type: typeof DOUBLE | typeof INT64,
  values: ArrayLike<number>,
) {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) {
    if (type === DOUBLE) view.setFloat64(i * 8, values[i], true);
    else view.setBigInt64(i * 8, BigInt(values[i]), true);
  }
  return onnx.TensorProto.create({ name, dims, dataType: type, rawData: bytes });
}

function valueInfo(name: string, type: number, dims: (number | string)[], doc = "") {
  return onnx.ValueInfoProto.create({
    name,
    docString: doc,
    type: {
      tensorType: {
        elemType: type,
        shape: {
          dim: dims.map((d) => typeof d === "string" ? { dimParam: d } : { dimValue: d }),
        },
      },
    },
  });
}

function node(
  opType: string,
  inputs: string[],
  outputs: string[],
  attributes: Record<string, number> = {},
) {
  return onnx.NodeProto.create({
    opType,
    input: inputs,
    output: outputs,
    name: outputs[0],
    attribute: Object.entries(attributes).map(([name, i]) =>
      onnx.AttributeProto.create({ name, i, type: onnx.AttributeProto.AttributeType.INT })
    ),
  });
}

/** The input's documentation: what it holds and the features' names. */
function inputDoc(tree: OnnxTree): string {
  const { data, config } = tree;
  if (data.imageShape) {
    return `${config.features} pixel values in [0, 1]: an image of ${
      data.imageShape.join(" x ")
    } (height, width, channels; row-major, channels last)`;
  }
  const names = data.featureNames ?? Array.from({ length: config.features }, (_, f) => `x${f}`);
  return (data.scaling
    ? `${config.features} features in their original units (the graph min-max scales them ` +
      `with the training split's ranges): `
    : `${config.features} features, as the tree was trained on: `) + names.join(", ");
}

/**
 * The ONNX model of a tree, as bytes.
 *
 * Input `input [N, F]` float32 (raw feature values when the data were min-max scaled: the
 * scaling is in the graph). Outputs: `class [N]` int64 and `probabilities [N, K]` float32
 * (max-leaf: the most probable leaf's class and distribution), `leaf [N]` int64,
 * `leaf_probability [N]` float32, `mixture_class [N]` int64 and `mixture [N, K]` float32.
 * A regression tree's outputs: `value [N]` float64 (the most probable leaf's value),
 * `mixture_value [N]` float64 (the path-weighted mean of the leaves' values), both in the
 * target's units, and `leaf`, `leaf_probability`.
 *
 * @param tree The tree's config, parameters and data facts.
 * @returns The serialised `ModelProto`.
 * @throws {RangeError} When the parameters do not fit the config, or a regression tree does not
 *   record its target.
 * @example
 * ```ts
 * await Deno.writeFile("tree.onnx", treeOnnx(await loadTreeCheckpoint("runs/x")));
 * ```
 */
export function treeOnnx(tree: OnnxTree): Uint8Array {
  const { config, params, data } = tree;
  const { depth: D, features: F, classes: K } = config;
  const { inner: I, leaves: L } = treeSizes(D);
  if (params.w.length !== I * F || params.b.length !== I || params.phi.length !== L * K) {
    throw new RangeError(
      `Cannot export to ONNX: parameters do not fit depth ${D}, ${F} features, ${K} classes`,
    );
  }
  const regression = isRegression(config);
  const target = data.target;
  if (regression && (!target || K !== 1)) {
    throw new RangeError(
      "Cannot export to ONNX: the regression tree does not record its target (data.target)",
    );
  }
  const init = [];
  const nodes = [];
  const N = { ...ONNX_NAMES, ...ONNX_REGRESSION_NAMES };

  nodes.push(node("Cast", [N.input], ["x_double"], { to: DOUBLE }));
  let x = "x_double";
  const scaling = !data.imageShape && data.scaling?.min.length === F &&
      data.scaling.max.length === F
    ? data.scaling
    : undefined;
  if (scaling) {
    const scale = scaling.min.map((lo, f) => {
      const range = scaling.max[f] - lo;
      return range > 0 ? 1 / range : 0;
    });
    init.push(tensor("scaling_min", [F], DOUBLE, scaling.min));
    init.push(tensor("scaling_scale", [F], DOUBLE, scale));
    nodes.push(node("Sub", [x, "scaling_min"], ["x_shifted"]));
    nodes.push(node("Mul", ["x_shifted", "scaling_scale"], ["x_scaled"]));
    x = "x_scaled";
  }

  // w^T [F, I] so that x W^T is one MatMul.
  const wt = new Float64Array(F * I);
  for (let n = 0; n < I; n++) for (let f = 0; f < F; f++) wt[f * I + n] = params.w[n * F + f];
  init.push(tensor("w_t", [F, I], DOUBLE, wt));
  init.push(tensor("b", [I], DOUBLE, params.b));
  init.push(tensor("beta", [], DOUBLE, [Math.fround(params.beta)]));
  nodes.push(node("MatMul", [x, "w_t"], ["xw"]));
  nodes.push(node("Add", ["xw", "b"], ["xw_b"]));
  nodes.push(node("Mul", ["xw_b", "beta"], ["z"]));
  nodes.push(node("Sigmoid", ["z"], ["p_right"]));

  // Path probabilities: one factor per level, a_d + s_d * p[:, node_d].
  let reach = "";
  for (let d = 0; d < D; d++) {
    const ancestor = new Float64Array(L), a = new Float64Array(L), s = new Float64Array(L);
    for (let l = 0; l < L; l++) {
      // Heap node of leaf l's ancestor at depth d, and of its child towards l.
      let child = I + l;
      for (let up = D; up > d + 1; up--) child = (child - 1) >> 1;
      const parent = (child - 1) >> 1;
      ancestor[l] = parent;
      const right = child === 2 * parent + 2;
      a[l] = right ? 0 : 1;
      s[l] = right ? 1 : -1;
    }
    init.push(tensor(`node_${d}`, [L], INT64, ancestor));
    init.push(tensor(`offset_${d}`, [L], DOUBLE, a));
    init.push(tensor(`sign_${d}`, [L], DOUBLE, s));
    nodes.push(node("Gather", ["p_right", `node_${d}`], [`p_${d}`], { axis: 1 }));
    nodes.push(node("Mul", [`p_${d}`, `sign_${d}`], [`signed_${d}`]));
    nodes.push(node("Add", [`signed_${d}`, `offset_${d}`], [`factor_${d}`]));
    if (d === 0) reach = `factor_0`;
    else {
      nodes.push(node("Mul", [reach, `factor_${d}`], [`reach_${d}`]));
      reach = `reach_${d}`;
    }
  }

  // The leaf and its path probability.
  nodes.push(node("ArgMax", [reach], [N.leaf], { axis: 1, keepdims: 0 }));
  nodes.push(node("Unsqueeze", [N.leaf, "axis_1"], ["leaf_column"]));
  init.push(tensor("axis_1", [1], INT64, [1]));
  nodes.push(node("GatherElements", [reach, "leaf_column"], ["leaf_reach"], { axis: 1 }));
  nodes.push(node("Squeeze", ["leaf_reach", "axis_1"], ["leaf_probability_double"]));
  nodes.push(node("Cast", ["leaf_probability_double"], [N.leafProbability], { to: FLOAT }));

  if (regression) {
    // Values in standardised units, then the target's: v * std + mean, as predictor.js.
    init.push(tensor("leaf_values", [L], DOUBLE, params.phi));
    init.push(tensor("leaf_values_column", [L, 1], DOUBLE, params.phi));
    init.push(tensor("target_std", [], DOUBLE, [target!.std]));
    init.push(tensor("target_mean", [], DOUBLE, [target!.mean]));
    nodes.push(node("Gather", ["leaf_values", N.leaf], ["value_std"], { axis: 0 }));
    nodes.push(node("Mul", ["value_std", "target_std"], ["value_scaled"]));
    nodes.push(node("Add", ["value_scaled", "target_mean"], [N.value]));
    nodes.push(node("MatMul", [reach, "leaf_values_column"], ["mixture_column"]));
    nodes.push(node("Squeeze", ["mixture_column", "axis_1"], ["mixture_std"]));
    nodes.push(node("Mul", ["mixture_std", "target_std"], ["mixture_scaled"]));
    nodes.push(node("Add", ["mixture_scaled", "target_mean"], [N.mixtureValue]));
    const name = target!.name;
    const graph = onnx.GraphProto.create({
      name: "soft_regression_tree",
      docString: `A soft binary regression tree (Frosst & Hinton 2017) of depth ${D}: ${F} ` +
        `features, predicts ${name}.`,
      node: nodes,
      initializer: init,
      input: [valueInfo(N.input, FLOAT, ["N", F], inputDoc(tree))],
      output: [
        valueInfo(N.value, DOUBLE, ["N"], `max-leaf: the most probable leaf's ${name}`),
        valueInfo(N.leaf, INT64, ["N"], "the leaf with the greatest path probability"),
        valueInfo(N.leafProbability, FLOAT, ["N"], "that leaf's path probability"),
        valueInfo(
          N.mixtureValue,
          DOUBLE,
          ["N"],
          `sum over leaves of path probability x the leaf's ${name}`,
        ),
      ],
    });
    return modelBytes(graph, {
      task: "regression",
      target: JSON.stringify({ name, mean: target!.mean, std: target!.std }),
      ...dataProps(data),
    });
  }

  // Q = softmax(phi) in float64 from the float32 logits, as predictor.js computes it.
  const q = new Float64Array(L * K);
  for (let l = 0; l < L; l++) {
    let max = -Infinity, sum = 0;
    for (let k = 0; k < K; k++) max = Math.max(max, params.phi[l * K + k]);
    for (let k = 0; k < K; k++) sum += q[l * K + k] = Math.exp(params.phi[l * K + k] - max);
    for (let k = 0; k < K; k++) q[l * K + k] /= sum;
  }
  init.push(tensor("leaf_distributions", [L, K], DOUBLE, q));
  init.push(tensor("leaf_classes", [L], INT64, leafClasses(params, K)));
  nodes.push(node("Gather", ["leaf_classes", N.leaf], [N.class], { axis: 0 }));
  nodes.push(node("Gather", ["leaf_distributions", N.leaf], ["probabilities_double"], { axis: 0 }));
  nodes.push(node("Cast", ["probabilities_double"], [N.probabilities], { to: FLOAT }));
  nodes.push(node("MatMul", [reach, "leaf_distributions"], ["mixture_double"]));
  nodes.push(node("Cast", ["mixture_double"], [N.mixture], { to: FLOAT }));
  nodes.push(node("ArgMax", ["mixture_double"], [N.mixtureClass], { axis: 1, keepdims: 0 }));

  const classes = data.classNames.join(", ");
  const graph = onnx.GraphProto.create({
    name: "soft_decision_tree",
    docString: `A soft binary decision tree (Frosst & Hinton 2017) of depth ${D}: ${F} ` +
      `features, ${K} classes (${classes}).`,
    node: nodes,
    initializer: init,
    input: [valueInfo(N.input, FLOAT, ["N", F], inputDoc(tree))],
    output: [
      valueInfo(N.class, INT64, ["N"], `max-leaf class index; classes: ${classes}`),
      valueInfo(N.probabilities, FLOAT, ["N", K], "the max-leaf's class distribution"),
      valueInfo(N.leaf, INT64, ["N"], "the leaf with the greatest path probability"),
      valueInfo(N.leafProbability, FLOAT, ["N"], "that leaf's path probability"),
      valueInfo(N.mixtureClass, INT64, ["N"], "the mixture prediction's class index"),
      valueInfo(N.mixture, FLOAT, ["N", K], "sum over leaves of path probability x distribution"),
    ],
  });
  return modelBytes(graph, { class_names: JSON.stringify(data.classNames), ...dataProps(data) });
}

/** The metadata every model carries: the data's source, feature names or image shape. */
function dataProps(data: DataInfo): Record<string, string> {
  const props: Record<string, string> = { source: data.source };
  if (data.featureNames) props.feature_names = JSON.stringify(data.featureNames);
  if (data.imageShape) props.image_shape = JSON.stringify(data.imageShape);
  return props;
}

/** A graph as a serialised `ModelProto` with metadata `props`. */
function modelBytes(
  graph: ReturnType<typeof onnx.GraphProto.create>,
  props: Record<string, string>,
): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: "", version: ONNX_OPSET }],
    producerName: "softtree",
    docString: graph.docString,
    graph,
    metadataProps: Object.entries(props).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(model).finish();
}

/**
 * Writes `tree.onnx` (see {@linkcode treeOnnx}) atomically.
 *
 * @param tree The tree.
 * @param path The file to write.
 * @returns The number of bytes written.
 * @example
 * ```ts
 * await exportOnnx(await loadTreeCheckpoint("runs/x"), "out/tree.onnx");
 * ```
 */
export async function exportOnnx(tree: OnnxTree, path: string): Promise<number> {
  const bytes = treeOnnx(tree);
  await writeFileAtomic(path, bytes);
  return bytes.length;
}
