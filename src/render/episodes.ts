/**
 * Rendered episodes (`csc eval --render`): the policy acts in env 0 of a renderable vector env as in
 * `runEpisodes`, and every state it passes through becomes a frame with the filter's decision drawn
 * on it. An episode of T steps gives T + 1 frames: its first state, each s′ (the last one, the
 * terminal state, is pictured before the env auto-resets, with the outcome drawn instead).
 */
import type { ActOptions, DeployedPolicy } from '../algos/deploy.ts';
import { EnvInputError, type Frame, type RenderableVecEnv, type RenderRequest } from '../envs/env.ts';
import { Canvas } from './canvas.ts';
import { drawOverlay, type EpisodeOutcome } from './overlay.ts';

/** Options of {@link renderEpisodes}. */
export interface RenderEpisodesOptions {
  readonly policy: DeployedPolicy;
  /** A vector of one env (the pictured one). */
  readonly env: RenderableVecEnv;
  readonly episodes: number;
  readonly seed: number;
  readonly act: ActOptions;
  readonly widthPx: number;
  readonly heightPx: number;
  /** Receives every frame in order (e.g. a VideoWriter's write). */
  readonly onFrame: (frame: Frame) => Promise<void>;
}

/** What a rendered run saw. */
export interface RenderedRun {
  readonly episodes: number;
  readonly steps: number;
  readonly frames: number;
  readonly returnSum: number;
  readonly failures: number;
  readonly exhausted: number;
  /** Sum of Q_C over the steps where the filter was on. */
  readonly qcSum: number;
  /** Episodes cut short by a sim server fault (their last frame says `DROPPED`). */
  readonly dropped: number;
}

/** Acts and renders until `episodes` episodes have ended. */
export async function renderEpisodes(o: RenderEpisodesOptions): Promise<RenderedRun> {
  const { policy, env } = o;
  if (env.numEnvs !== 1) throw new EnvInputError(`renderEpisodes: expected a vector of 1 env, got ${env.numEnvs}`);
  const request: RenderRequest = { env: 0, widthPx: o.widthPx, heightPx: o.heightPx };
  const filterOn = o.act.filter !== false && policy.hasCritic;
  const epsilon = filterOn ? (o.act.epsilon ?? policy.epsilon) : Number.NaN;
  let obs = await env.reset(o.seed);
  let frame = await env.renderFrame(request);
  let episode = 1;
  let t = 0;
  let ret = 0;
  const totals = { episodes: 0, steps: 0, frames: 0, returnSum: 0, failures: 0, exhausted: 0, qcSum: 0, dropped: 0 };
  const emit = async (f: Frame, draw: (c: Canvas) => void): Promise<void> => {
    const c = Canvas.copyOf(f);
    draw(c);
    await o.onFrame(c);
    totals.frames++;
  };
  while (totals.episodes < o.episodes) {
    const d = policy.act(obs, 1, o.act);
    const decision = { qc: d.qc[0]!, tried: d.tried[0]!, exhausted: d.exhausted[0] === 1 };
    await emit(frame, (c) => {
      drawOverlay(c, { episode, step: t, returnSoFar: ret, epsilon, shown: { kind: 'decision', decision } });
    });
    const { step: r, frame: next } = await env.stepRendered(d.actions, request);
    totals.steps++;
    totals.exhausted += d.exhausted[0]!;
    if (Number.isFinite(d.qc[0])) totals.qcSum += d.qc[0]!;
    obs = r.obs;
    let outcome: EpisodeOutcome | undefined;
    if (r.dropped[0] === 1) {
      outcome = 'dropped';
      totals.dropped++;
    } else {
      t++;
      ret += r.reward[0]!;
      if (r.failure[0] === 1) outcome = 'failure';
      else if (r.terminated[0] === 1) outcome = 'success';
      else if (r.truncated[0] === 1) outcome = 'time limit';
    }
    if (outcome === undefined) {
      if (next === undefined) throw new EnvInputError(`${env.spec.id}: a step that was not dropped came back without its frame`);
      frame = next;
      continue;
    }
    // the episode's last frame: its terminal state (a dropped one has none: the last state shown)
    const last = next ?? frame;
    const shownReturn = ret;
    const shownStep = t;
    const end = outcome;
    await emit(last, (c) => {
      drawOverlay(c, { episode, step: shownStep, returnSoFar: shownReturn, epsilon, shown: { kind: 'end', outcome: end } });
    });
    totals.episodes++;
    if (outcome !== 'dropped') {
      totals.returnSum += ret;
      totals.failures += r.failure[0]!;
    }
    episode++;
    t = 0;
    ret = 0;
    if (totals.episodes < o.episodes) frame = await env.renderFrame(request);
  }
  return totals;
}
