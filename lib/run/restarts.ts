/**
 * Candidate starts: a training that lands in very different places from different starts
 * (small trees do) trains several candidates for a few epochs each, and only the one with the
 * best validation accuracy goes on. This file keeps the tally (each finished candidate's
 * accuracy, the winner so far) so that a run saved in the middle of the candidates resumes
 * with them; what a candidate is and how it trains is the training's business.
 *
 * @module
 */
import type { StepLoop } from "./steps.ts";

/** A candidate starting (no `valAccuracy`) or finished. */
export interface CandidateEvent {
  /** The candidate, 0-based. */
  index: number;
  /** How many candidates. */
  count: number;
  /** Its best validation accuracy; absent when it starts. */
  valAccuracy?: number;
}

/** What training one candidate gives. */
export interface CandidateResult<W> {
  /** Its best validation accuracy, in [0, 1]. */
  acc: number;
  /** What to keep of it, called only when it becomes the winner. */
  keep: () => W;
}

/**
 * The tally of a training's candidate starts.
 *
 * @example
 * ```ts
 * const restarts = new Restarts<Params>(4);
 * const winner = yield* restarts.run(0, (k) => trainCandidate(k));
 * ```
 */
export class Restarts<W> {
  /** How many candidates. */
  readonly count: number;
  /** The best validation accuracy of each finished candidate, in order. */
  readonly candidates: number[];
  /** What was kept of the best finished candidate (the first of equals), or `null`. */
  winner: W | null;

  /**
   * A tally with no candidate finished, or a saved run's.
   * @param count How many candidates.
   * @param resume The tally of a saved run: its finished candidates and winner.
   */
  constructor(count: number, resume?: { candidates: number[]; winner: W | null }) {
    this.count = count;
    this.candidates = resume ? [...resume.candidates] : [];
    this.winner = resume?.winner ?? null;
  }

  /** The best validation accuracy of the finished candidates, or `null` before one finished. */
  get bestAcc(): number | null {
    return this.candidates.length ? Math.max(...this.candidates) : null;
  }

  /**
   * Train candidates `from..count-1` one after another, keeping the winner.
   * @param from The first candidate to train (a resumed run's current one).
   * @param train Trains candidate `k`, yielding as any training loop does.
   * @param onCandidate Told when each starts and how it ended.
   * @returns What was kept of the winner.
   */
  *run<S>(
    from: number,
    train: (k: number) => StepLoop<S, CandidateResult<W>>,
    onCandidate?: (event: CandidateEvent) => void,
  ): StepLoop<S, W> {
    for (let k = from; k < this.count; k++) {
      onCandidate?.({ index: k, count: this.count });
      const { acc, keep } = yield* train(k);
      const best = this.bestAcc;
      this.candidates.push(acc);
      onCandidate?.({ index: k, count: this.count, valAccuracy: acc });
      if (best === null || acc > best) this.winner = keep();
    }
    return this.winner!;
  }
}
