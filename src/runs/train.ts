/**
 * The training loop as an RxJS stream: one emission per epoch (collect with the filter, update
 * critic, policy, value and λ), each persisted — metrics row, then checkpoint every
 * `checkpointEvery` epochs — before the next epoch starts, so a checkpoint always matches the
 * learner's state. A stop request (Ctrl-C) ends the stream after the epoch in flight; the run
 * then writes a final checkpoint, its status and its figure.
 */
import { EMPTY, type Observable, defer, lastValueFrom, repeat, takeWhile, tap } from 'rxjs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { LearnerConfig } from '../algos/config.ts';
import { CpoLearner } from '../algos/cpo.ts';
import { CscLearner } from '../algos/csc.ts';
import type { Learner } from '../algos/learner.ts';
import { SacLearner } from '../algos/sac.ts';
import { writeFileAtomic } from '../core/atomic.ts';
import type { EnvSpec, VecEnv } from '../envs/env.ts';
import { makeVecEnv, type SimOptions } from '../envs/make.ts';
import type { BackendInfo } from '../nn/backend.ts';
import { type HealthFinding, runHealth } from './health.ts';
import type { EpochMetrics } from './metrics.ts';
import { writeRunFigure } from './plot.ts';
import { ProgressReporter, type ProgressMode } from './progress.ts';
import { RUN_FILES, RunFolder } from './run-folder.ts';
import { RecordingVecEnv } from './recording-env.ts';
import { readReplayInto, removeReplay, writeReplay } from './replay-file.ts';
import { SeedDataError, type SeedDataSink, type SeedSummary, createSeedData, fileSha256, seedReplayBuffer } from './seed-data.ts';

/** Builds the learner for a config (every algorithm this package trains). */
export function makeLearner(config: LearnerConfig, env: VecEnv): Learner {
  switch (config.algo) {
    case 'csc':
    case 'trpo':
    case 'qensemble':
      return new CscLearner(config, env);
    case 'cpo':
      return new CpoLearner(config, env);
    case 'sac':
      return new SacLearner(config, env);
  }
}

/**
 * Epochs of `learner` as a stream; `persist` runs inside each epoch's step so the next epoch
 * starts only after it. Ends after `epochs` epochs in total, or after the epoch in flight when
 * `shouldStop()` turns true.
 */
export function epochs$(learner: Learner, epochs: number, persist: (m: EpochMetrics) => Promise<void>, shouldStop: () => boolean): Observable<EpochMetrics> {
  const remaining = epochs - learner.epoch;
  if (remaining <= 0) return EMPTY;
  return defer(async () => {
    const m = await learner.runEpoch();
    await persist(m);
    return m;
  }).pipe(
    repeat(remaining),
    takeWhile(() => !shouldStop(), true),
  );
}

/** Options of a training run. */
export interface TrainOptions {
  readonly config: LearnerConfig;
  readonly backend: BackendInfo;
  /** Run folder; created (or resumed with `resume`). */
  readonly out: string;
  readonly resume: boolean;
  /** Checkpoint every k epochs (and always at the end). */
  readonly checkpointEvery: number;
  readonly progress: ProgressMode;
  readonly sim?: SimOptions;
  /** Inject an env (tests); otherwise built from `config.env`. */
  readonly env?: VecEnv;
  /** Polled between epochs; true stops the run cleanly. */
  readonly shouldStop?: () => boolean;
  /** Checkpoint whose policy weights start the run (ignored on --resume). */
  readonly initPolicy?: string;
  /**
   * Seed-data file (docs/seed-data.md) whose transitions go into D_env before the first epoch
   * (Appendix A.10); recorded in the run folder's `seed-data.json`, from which `resume` re-seeds.
   */
  readonly seedData?: string;
  /** Seed-data file to which every transition of this invocation is written (any algorithm). */
  readonly recordTransitions?: string;
  /** Extra fields for config.json (command line, commit). */
  readonly provenance?: Record<string, unknown>;
}

/** What a finished (or stopped) run reports. */
export interface TrainResult {
  readonly dir: string;
  readonly epochs: number;
  readonly stopped: boolean;
  readonly last: EpochMetrics | undefined;
  readonly checkpoint: string | undefined;
  /** Transitions written to `recordTransitions` (0 without it). */
  readonly recordedTransitions: number;
  /** What the whole run's metrics say about it (health.ts), also in the run folder's `health.json`. */
  readonly health: readonly HealthFinding[];
}

/** The run folder's record of what seeded D_env. */
export const SEED_RECORD_FILE = 'seed-data.json';

/**
 * Seeds the learner's D_env from a seed-data file; with `expectedSha256`, the file must still hold
 * the bytes it held when the run was first seeded.
 */
export async function seedLearner(learner: Learner, path: string, spec: EnvSpec, expectedSha256?: string): Promise<SeedSummary> {
  const replay = learner.replay;
  if (replay === undefined || replay === null) {
    throw new SeedDataError(`--seed-data ${path}: algo ${learner.config.algo} has no replay buffer to seed (it learns on-policy); seed csc, qensemble or sac runs`);
  }
  if (expectedSha256 !== undefined) {
    const sha = await fileSha256(path);
    if (sha !== expectedSha256) throw new SeedDataError(`${path}: the seed-data file changed since the run was seeded (SHA-256 ${sha}, the run folder's ${SEED_RECORD_FILE} says ${expectedSha256}); restore it to resume`);
  }
  return seedReplayBuffer(replay, resolve(path), spec);
}

/** The run folder's `seed-data.json`, when the run was seeded. */
export async function readSeedRecord(dir: string): Promise<{ path: string; sha256: string } | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, SEED_RECORD_FILE), 'utf8');
  } catch {
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new SeedDataError(`${join(dir, SEED_RECORD_FILE)}: not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof parsed !== 'object' || parsed === null || !('path' in parsed) || !('sha256' in parsed) || typeof parsed.path !== 'string' || typeof parsed.sha256 !== 'string') {
    throw new SeedDataError(`${join(dir, SEED_RECORD_FILE)}: expected an object with 'path' and 'sha256' strings`);
  }
  return { path: parsed.path, sha256: parsed.sha256 };
}

/**
 * On `--resume`, keeps `config.json` true to what the run now does: the learner fields that
 * differ from the saved ones (more `--epochs`, a `--set` from here on) are written over them, and
 * each such resume is listed under `resumes` with the epoch it starts at and each field's
 * `from`/`to`, so the first epochs can still be read against the config they ran with.
 */
async function recordResumeChanges(folder: RunFolder, config: LearnerConfig, atEpoch: number): Promise<void> {
  const saved = (await folder.readConfig()) as Record<string, unknown>;
  const changed: Record<string, { from: unknown; to: unknown }> = {};
  for (const [key, to] of Object.entries(config)) {
    // A field the saved config lacks was added to the learner after the run began: it is written
    // with its value, which is the behaviour from before it existed, and not listed as a change.
    if (key in saved && JSON.stringify(saved[key]) !== JSON.stringify(to)) changed[key] = { from: saved[key], to };
  }
  if (Object.keys(changed).length === 0) return;
  const resumes: unknown[] = Array.isArray(saved.resumes) ? (saved.resumes as unknown[]) : [];
  await folder.writeConfig({ ...saved, ...config, resumes: [...resumes, { atEpoch, date: new Date().toISOString(), changed }] });
}

/** Runs training into a run folder: config, metrics, checkpoints, status. */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const { config } = options;
  // The env first: an unknown id or a missing simulator fails before any run folder is made; so
  // does a seed-data file that is malformed or does not fit the env.
  const inner = options.env ?? (await makeVecEnv(config.env, config.numEnvs, options.sim));
  let sink: SeedDataSink | undefined;
  try {
    if (options.recordTransitions !== undefined) {
      const { spec } = inner;
      sink = await createSeedData(options.recordTransitions, { env: spec.id, obsSize: spec.obsSize, actSize: spec.actSize, source: { run: options.out, algo: config.algo, seed: config.seed, resume: options.resume, recorded: new Date().toISOString() } });
    }
  } catch (e) {
    if (options.env === undefined) await inner.close();
    throw e;
  }
  const recorder = sink === undefined ? undefined : new RecordingVecEnv(inner, sink);
  const env: VecEnv = recorder ?? inner;
  const learner = makeLearner(config, env);
  let folder: RunFolder;
  let seeded: SeedSummary | undefined;
  try {
    if (options.resume && options.seedData !== undefined) throw new SeedDataError(`--seed-data ${options.seedData}: a resumed run re-seeds from the file its ${SEED_RECORD_FILE} names; start a new run to seed from another`);
    if (!options.resume && options.seedData !== undefined) seeded = await seedLearner(learner, options.seedData, env.spec);
    folder = options.resume ? await RunFolder.open(options.out) : await RunFolder.create(options.out);
  } catch (e) {
    learner.dispose();
    await sink?.abort();
    if (options.env === undefined) await env.close();
    throw e;
  }
  let lastCheckpoint: string | undefined;
  let last: EpochMetrics | undefined;
  try {
    if (options.resume) {
      const point = await folder.prepareResume();
      let replayRestored = false;
      if (point.checkpoint !== undefined) {
        await learner.restore(point.checkpoint.dir);
        lastCheckpoint = point.checkpoint.dir;
        const replay = learner.replay;
        if (replay !== undefined && replay !== null) replayRestored = await readReplayInto(point.checkpoint.dir, replay);
      }
      last = point.metrics.at(-1);
      await recordResumeChanges(folder, config, learner.epoch);
      // A checkpoint without a saved D_env (written before it was saved, or the run stopped before
      // its first checkpoint) refills it: seed it again from the same file, which must not have changed.
      const record = await readSeedRecord(folder.dir);
      if (record !== undefined && !replayRestored) await seedLearner(learner, record.path, env.spec, record.sha256);
    } else {
      if (options.initPolicy !== undefined) await learner.initPolicyFrom(options.initPolicy);
      await folder.writeConfig({ ...config, spec: env.spec, backendUsed: options.backend, initPolicy: options.initPolicy ?? null, envArgs: options.sim?.envArgs ?? {}, seedData: seeded?.path ?? null, recordTransitions: options.recordTransitions ?? null, ...options.provenance });
      if (seeded !== undefined) await writeFileAtomic(join(folder.dir, SEED_RECORD_FILE), `${JSON.stringify(seeded, null, 2)}\n`);
    }
    await folder.writeStatus('running', learner.epoch - 1);
    await learner.start();
    const progress = new ProgressReporter({ totalEpochs: config.epochs, mode: options.progress, label: `${config.algo} s${config.seed}`, startEpoch: learner.epoch });
    // Asked once per epoch, so the checkpoint decision and the end of the stream agree.
    const askStop = options.shouldStop ?? (() => false);
    let stopping = false;
    // D_env goes into the newest checkpoint only: a resume continues with it, and the run folder
    // holds one copy (the older checkpoints keep their networks).
    const saveCheckpoint = async (epoch: number): Promise<void> => {
      const previous = lastCheckpoint;
      lastCheckpoint = await folder.writeCheckpointDir(epoch, async (tmp) => {
        await learner.save(tmp);
        const replay = learner.replay;
        if (replay !== undefined && replay !== null) await writeReplay(tmp, replay);
      });
      if (previous !== undefined && previous !== lastCheckpoint) await removeReplay(previous);
    };
    const persist = async (m: EpochMetrics): Promise<void> => {
      await folder.appendMetrics(m);
      stopping = askStop();
      const isLast = m.epoch + 1 >= config.epochs || stopping;
      if (isLast || (m.epoch + 1) % options.checkpointEvery === 0) await saveCheckpoint(m.epoch);
      await folder.writeStatus('running', m.epoch);
    };
    await lastValueFrom(
      epochs$(learner, config.epochs, persist, () => stopping).pipe(
        tap((m) => {
          last = m;
          progress.update(m);
        }),
      ),
      { defaultValue: undefined },
    );
    progress.stop();
    if (last !== undefined) {
      // The run's own figure (average reward, average episodic failures, cumulative failures).
      await writeRunFigure(folder.dir).catch((e: unknown) => {
        progress.log(`figure not written: ${e instanceof Error ? e.message : String(e)}`);
      });
    }
    const stopped = learner.epoch < config.epochs;
    // Judged over every epoch the folder holds, so a resumed run is judged whole. Like the figure,
    // a report that cannot be written does not fail a run whose training finished.
    let health: HealthFinding[] = [];
    if (last !== undefined) {
      try {
        const all = await folder.readMetrics();
        health = runHealth(all, { chi: config.chi, algo: config.algo, lambdaAdvantage: config.lambdaAdvantage, policyUpdate: config.policyUpdate });
        const report = { epochs: all.length, of: config.epochs, stopped, chi: config.chi, algo: config.algo, findings: health };
        await writeFileAtomic(folder.path(RUN_FILES.health), `${JSON.stringify(report, null, 2)}\n`);
      } catch (e) {
        progress.log(`health.json not written: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    await folder.writeStatus(stopped ? 'interrupted' : 'done', learner.epoch - 1, stopped ? 'stopped by request; continue with --resume' : undefined);
    return { dir: folder.dir, epochs: learner.epoch, stopped, last, checkpoint: lastCheckpoint, recordedTransitions: recorder?.recorded ?? 0, health };
  } catch (e) {
    await folder.writeStatus('failed', learner.epoch - 1, e instanceof Error ? e.message : String(e)).catch(() => undefined);
    throw e;
  } finally {
    learner.dispose();
    // What was recorded is published even when the run stops or fails: each record is complete.
    await sink?.close();
    if (options.env === undefined) await env.close();
  }
}
