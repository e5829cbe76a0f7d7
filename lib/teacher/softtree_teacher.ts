/**
 * softtree's own ConvNet as an {@linkcode AnyTeacher}, and the fingerprint of its weights
 * that keys its logits in the cache.
 *
 * @module
 */
import { ensureTf } from "../backends/tf_setup.ts";
import { type AnyTeacher, sha256Hex, type TeacherLogitsOptions } from "./any.ts";
import { Teacher, teacherLogits } from "./model.ts";

/**
 * A hex SHA-256 of the teacher's weights (names, shapes and values) as they are now.
 *
 * @param teacher The teacher.
 * @returns 64 hex digits; it changes whenever any weight does.
 * @example
 * ```ts
 * const before = await teacherFingerprint(teacher);
 * ```
 */
export async function teacherFingerprint(teacher: Teacher): Promise<string> {
  await ensureTf();
  const enc = new TextEncoder();
  const parts: ArrayBufferView[] = [];
  for (const w of teacher.model.weights) {
    parts.push(enc.encode(`${w.originalName}:${w.shape.join("x")};`));
    parts.push(await w.read().data() as Float32Array);
  }
  return await sha256Hex(parts);
}

/** softtree's own ConvNet as an {@linkcode AnyTeacher} (its behaviour and cache keys unchanged). */
export class SofttreeTeacher implements AnyTeacher {
  readonly kind = "softtree" as const;
  readonly file: string;
  readonly preprocessing = null;
  /** The network. */
  readonly teacher: Teacher;

  /**
   * @param teacher The network.
   * @param file Its `model.json`.
   */
  constructor(teacher: Teacher, file: string) {
    this.teacher = teacher;
    this.file = file;
  }

  get classes(): number {
    return this.teacher.config.classes;
  }

  get features(): number {
    return this.teacher.features;
  }

  get inputShape(): readonly number[] {
    return this.teacher.config.inputShape;
  }

  describe(): string {
    const { inputShape, filters, dense } = this.teacher.config;
    return `softtree ConvNet ${this.file} (input ${inputShape.join("×")}, filters ${filters}, ` +
      `dense ${dense})`;
  }

  fingerprint(): Promise<string> {
    return teacherFingerprint(this.teacher);
  }

  logits(x: Float32Array, options: TeacherLogitsOptions = {}): Promise<Float32Array> {
    return teacherLogits(this.teacher, x, options);
  }

  dispose(): void {
    this.teacher.dispose();
  }
}

/**
 * The teacher as an {@linkcode AnyTeacher}: itself when it is one, else softtree's ConvNet
 * wrapped.
 *
 * @param teacher Either kind.
 * @param file Where the ConvNet came from. @default "(in memory)"
 */
export function asAnyTeacher(teacher: Teacher | AnyTeacher, file = "(in memory)"): AnyTeacher {
  return teacher instanceof Teacher ? new SofttreeTeacher(teacher, file) : teacher;
}
