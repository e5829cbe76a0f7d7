/**
 * Chooses and initialises TensorFlow.js's backend once: wasm where it loads (about 30x
 * the plain JS backend on matMuls), the plain CPU backend otherwise.
 *
 * @module
 */
import { tf } from "../deps.ts";

let ready: Promise<string> | null = null;

/**
 * Make sure TensorFlow.js has a backend; returns its name (`"wasm"` or `"cpu"`).
 * Set `SOFTTREE_TF_BACKEND=cpu` to force the plain backend.
 */
export function ensureTf(): Promise<string> {
  if (!ready) ready = init();
  return ready;
}

async function init(): Promise<string> {
  const wanted = Deno.env.get("SOFTTREE_TF_BACKEND");
  if (wanted !== "cpu") {
    try {
      if (await tf.setBackend("wasm")) {
        await tf.ready();
        return "wasm";
      }
    } catch {
      // fall through to the CPU backend
    }
  }
  await tf.setBackend("cpu");
  await tf.ready();
  return "cpu";
}
