/**
 * Using a trained tree on inputs of one's own: PNG and JPEG decoding, preprocessing said
 * aloud (gray or colour, inversion of light backgrounds, MNIST's digit framing or a resize,
 * values in [0, 1]), IDX and CSV inputs, predictions with their leaf and path, and a
 * standalone, dependency-free ES module predictor. The maths and the image preprocessing are
 * plain JavaScript files (`predictor.js`, `pixels.js`) that also run in the HTML report and
 * in an exported predictor.
 *
 * @example
 * ```ts
 * import { prepareInputs, TreePredictor } from "./mod.ts";
 *
 * const tree = await loadTreeCheckpoint("runs/x");
 * const inputs = await prepareInputs(["my-digits/"], tree);
 * for (const p of new TreePredictor(tree).predictInputs(inputs)) {
 *   console.log(p.input, p.className, p.steps.join("; "));
 * }
 * ```
 *
 * @module
 */
export { decodeImage, type InputFormat, type Raster, sniffFormat } from "../image/decode.ts";
export {
  float32Text,
  imageTarget,
  type InputInfo,
  type PredictorJson,
  predictorJson,
  type UsableTree,
} from "./model.ts";
export {
  borderLevel,
  frameDigit,
  type ImageTarget,
  type Prepared,
  prepareImage,
  type PrepareOptions,
  resize,
  toChannels,
} from "../image/pixels.js";
export {
  loadModel,
  type Model,
  type ModelJson,
  type Prediction,
  predictTree,
} from "../tree/predictor.js";
export { type PreparedInput, prepareInputs, type PrepareInputsOptions } from "./inputs.ts";
export { type InputPrediction, predictionsCsv, TreePredictor } from "./predict.ts";
export { EXPORT_FILES, exportPredictor, type ExportResult } from "./export.ts";
export {
  exportRules,
  type Rule,
  RULES_FILES,
  type RulesAgreement,
  rulesMarkdown,
  type RulesOptions,
  type RulesTree,
  type RuleTerm,
  type RuleTest,
  testText,
  type TreeRules,
  treeRules,
} from "./rules.ts";
export {
  exportOnnx,
  ONNX_NAMES,
  ONNX_OPSET,
  ONNX_REGRESSION_NAMES,
  type OnnxTree,
  treeOnnx,
} from "./onnx_export.ts";
