/**
 * What a finished run's metrics say about it, in words a user acts on: did the reward rise, are the
 * failures at or below χ, did the filter choose the actions rather than π, does the critic's
 * calibration make its numbers worth anything. `csc train` prints this after the last epoch and
 * writes it to the run folder as `health.json`.
 *
 * The checks read trends over thirds of the run, so they need `MIN_EPOCHS` epochs or more.
 */
import type { EpochMetrics } from './metrics.ts';
import { failuresPerEpisode, filterAndCriticShares } from './summary.ts';

/** Fewer epochs than this (3 in each third): no trend is judged. */
export const MIN_EPOCHS = 9;
/** Reward "rose" when the last third's mean exceeds the first third's by more than this many standard errors. */
export const RISE_STANDARD_ERRORS = 2;
/** Mean fraction of steps after epoch 5 at which the filter fell back, above which it is reported. */
export const EXHAUSTED_WARN = 0.05;
/** π's first sample passing the filter at fewer steps than this (last third) means the filter chooses the actions. */
export const FIRST_ACCEPT_WARN = 0.5;
/** λ rising in more than this share of the last third's epochs, with failures at or below χ, is reported. */
export const LAMBDA_RISING_WARN = 0.5;
/** Calibration shares (of epochs) below which the critic is reported as not conservative / not informative. */
export const CALIBRATION_WARN = 0.5;

export type HealthTopic = 'run' | 'reward' | 'failures' | 'lambda' | 'filter' | 'critic';

/** One finding: `warn` when the user should look, `ok` when the check passed, `note` when it could not be made. */
export interface HealthFinding {
  readonly level: 'ok' | 'warn' | 'note';
  readonly topic: HealthTopic;
  readonly message: string;
}

/** A share as a percentage: one decimal below 10 %, none above. */
const pct = (x: number): string => `${(100 * x).toFixed(x < 0.1 ? 1 : 0)} %`;
const f = (x: number, d = 3): string => x.toFixed(d);

function meanVar(xs: readonly number[]): { mean: number; variance: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.length < 2 ? 0 : xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1);
  return { mean, variance };
}

/** What the checks need to know of the run besides its metrics. */
export interface HealthContext {
  /** The run's χ. */
  readonly chi: number;
  /** The learner (`config.algo`): its words for λ and the critic differ (CPO logs ν* as λ and V_C as the critic's prediction). */
  readonly algo: string;
  /** `config.lambdaAdvantage` of a CSC run, where known: with `observed` λ integrates the failures seen beyond χ. */
  readonly lambdaAdvantage?: string;
  /** `config.policyUpdate` of a CSC run, where known: with `cpo` the logged λ is each epoch's ν*, not a dual variable carried over. */
  readonly policyUpdate?: string;
}

/**
 * The findings for one run. Learners without a filter or critic (TRPO) log NaN for those metrics,
 * and their checks are left out.
 */
export function runHealth(metrics: readonly EpochMetrics[], { chi, algo, lambdaAdvantage, policyUpdate }: HealthContext): HealthFinding[] {
  const csc = algo === 'csc';
  const n = metrics.length;
  if (n < MIN_EPOCHS) return [{ level: 'note', topic: 'run', message: `${n} epoch${n === 1 ? '' : 's'}: too few to judge trends (${MIN_EPOCHS} or more)` }];
  const third = Math.floor(n / 3);
  const first = metrics.slice(0, third);
  const last = metrics.slice(n - third);
  const out: HealthFinding[] = [];

  // Reward: the last third against the first, per-epoch means with a standard error.
  const rewards = (ms: readonly EpochMetrics[]): number[] => ms.filter((m) => m.episodes > 0 && Number.isFinite(m.avgReward)).map((m) => m.avgReward);
  const rf = rewards(first);
  const rl = rewards(last);
  const lambdaEnd = metrics[n - 1]!.lambda;
  const lateFailures = failuresPerEpisode(last);
  if (rf.length < 2 || rl.length < 2) {
    out.push({ level: 'note', topic: 'reward', message: 'too few finished episodes in the first or last third of the run to judge the reward' });
  } else {
    const a = meanVar(rf);
    const b = meanVar(rl);
    const diff = b.mean - a.mean;
    const se = Math.sqrt(a.variance / rf.length + b.variance / rl.length);
    const trend = `${f(a.mean, 2)} in the first third of the epochs → ${f(b.mean, 2)} in the last`;
    if (diff > RISE_STANDARD_ERRORS * se) {
      out.push({ level: 'ok', topic: 'reward', message: `reward rose: ${trend}` });
    } else {
      const how = diff < -RISE_STANDARD_ERRORS * se ? `reward fell: ${trend}` : `reward did not rise: ${trend}, a change within ${RISE_STANDARD_ERRORS} standard errors (${f(se, 2)})`;
      const safeByNotActing =
        csc && lambdaEnd > 0 && Number.isFinite(lateFailures) && lateFailures <= chi
          ? `; with λ at ${f(lambdaEnd)} and failures at or below χ, the learner may be staying safe by not doing the task (as CSC on the Panda push, docs/results.md); \`--preset filter-only\` holds λ at 0`
          : '';
      out.push({ level: 'warn', topic: 'reward', message: `${how}${safeByNotActing}` });
    }
  }

  // Failures in the last third against χ.
  if (Number.isFinite(lateFailures)) {
    const withEpisodes = last.filter((m) => m.episodes > 0);
    const atOrBelow = withEpisodes.filter((m) => m.avgFailures <= chi).length;
    const counted = `at or below χ in ${atOrBelow} of the last third's ${withEpisodes.length} epochs with episodes`;
    out.push(
      lateFailures <= chi
        ? { level: 'ok', topic: 'failures', message: `failures per episode in the last third: ${f(lateFailures)}, at or below χ = ${chi} (${counted})` }
        : { level: 'warn', topic: 'failures', message: `failures per episode in the last third: ${f(lateFailures)}, above χ = ${chi} (${counted})${exactStepCases(withEpisodes, chi)}` },
    );
  } else {
    out.push({ level: 'note', topic: 'failures', message: 'no finished episode in the last third of the run' });
  }

  // λ (CSC): still rising late in the run although the failures seen are at or below χ, i.e.
  // driven by its estimate of the unfiltered policy's risk rather than by failures. With
  // `lambdaAdvantage: observed` λ has no such estimate: it integrates each epoch's failures beyond
  // χ, so it rises in every epoch above χ and falls in the others; only a net rise is reported.
  // With `policyUpdate: cpo` the logged λ is each epoch's ν*, which carries nothing over.
  if (csc && policyUpdate !== 'cpo' && Number.isFinite(lateFailures) && lateFailures <= chi) {
    const from = n - third;
    let rose = 0;
    for (let i = from; i < n; i++) if (metrics[i]!.lambda > metrics[i - 1]!.lambda) rose++;
    if (lambdaAdvantage === 'observed') {
      const start = metrics[from - 1]!.lambda;
      if (lambdaEnd > start) {
        const above = last.filter((m) => m.episodes > 0 && m.avgFailures > chi).length;
        out.push({
          level: 'warn',
          topic: 'lambda',
          message: `λ rose over the last third, ${f(start)} → ${f(lambdaEnd)}, while its failures per episode (${f(lateFailures)}) were at or below χ: with \`lambdaAdvantage: observed\` λ integrates each epoch's failures beyond χ, and ${above} of the last third's ${third} epochs had failures above it`,
        });
      }
    } else if (rose > LAMBDA_RISING_WARN * third) {
      const risks = last.map((m) => m.policyRisk ?? NaN).filter(Number.isFinite).sort((a, b) => a - b);
      const median = risks.length === 0 ? '' : ` (\`policyRisk\`, median ${f(risks[Math.floor(risks.length / 2)]!)} in the last third)`;
      out.push({
        level: 'warn',
        topic: 'lambda',
        message: `λ rose in ${rose} of the last third's ${third} epochs, to ${f(metrics[n - 1]!.lambda)}, while failures stayed at or below χ: its estimate of π's unfiltered risk${median} reads above χ, so λ weighs risk more than the failures seen ask for`,
      });
    }
  }

  // Filter: fallbacks after epoch 5, and how often π's own sample passed late in the run.
  const shares = filterAndCriticShares(metrics, chi);
  const firstAccept = last.map((m) => m.filterFirstAcceptRate ?? NaN).filter(Number.isFinite);
  if (Number.isFinite(shares.exhaustedAfter5) || firstAccept.length > 0) {
    const fa = firstAccept.length === 0 ? NaN : firstAccept.reduce((a, b) => a + b, 0) / firstAccept.length;
    const warnings: string[] = [];
    if (shares.exhaustedAfter5 > EXHAUSTED_WARN) {
      warnings.push(`no candidate had Q_C ≤ ε at ${pct(shares.exhaustedAfter5)} of steps after epoch 5, where the fallback (\`filterFallback\`) chose the action: the critic rates every candidate of those states unsafe`);
    }
    if (fa < FIRST_ACCEPT_WARN) warnings.push(`π's own first sample passed at only ${pct(fa)} of steps in the last third: the filter, not π, chose the actions`);
    const seen = [
      ...(Number.isFinite(fa) ? [`π's first sample passed at ${pct(fa)} of steps in the last third`] : []),
      ...(Number.isFinite(shares.exhaustedAfter5) ? [`fallback at ${pct(shares.exhaustedAfter5)} of steps after epoch 5`] : []),
    ];
    out.push(warnings.length > 0 ? { level: 'warn', topic: 'filter', message: `filter: ${warnings.join('; ')}` } : { level: 'ok', topic: 'filter', message: `filter: ${seen.join('; ')}` });
  }

  // Critic: conservative (predicted ≥ observed) and informative (predicted ≤ 3·observed + 0.02).
  if (Number.isFinite(shares.calibrationConservative)) {
    const critic = algo === 'cpo' ? 'cost value V_C' : 'critic';
    const warnings: string[] = [];
    if (shares.calibrationConservative < CALIBRATION_WARN) {
      const risk = Number.isFinite(shares.exhaustedAfter5) ? 'so the filter may pass unsafe actions' : 'so the learner sees less risk than there is';
      warnings.push(`it predicted fewer failures than followed in ${pct(1 - shares.calibrationConservative)} of epochs: not conservative, ${risk}`);
    }
    if (shares.calibrationInformative < CALIBRATION_WARN) {
      warnings.push(`it predicted more than 3× the failures that followed (+ 0.02) in ${pct(1 - shares.calibrationInformative)} of epochs: too pessimistic for its numbers to separate actions`);
    }
    out.push(
      warnings.length > 0
        ? { level: 'warn', topic: 'critic', message: `${critic}: ${warnings.join('; ')}` }
        : { level: 'ok', topic: 'critic', message: `${critic}: conservative (predicted ≥ observed) in ${pct(shares.calibrationConservative)} of epochs, within 3× observed + 0.02 in ${pct(shares.calibrationInformative)}` },
    );
  }
  return out;
}

/**
 * For learners that solve CPO's local problem (`--algo cpo`, `policyUpdate: cpo`): which case the
 * step took in the epochs whose failures were above χ, so that a run above χ says whether its
 * step tried to recover (case 0), expected its trust region to reach χ (case 1, ν* its
 * multiplier), or had no cost gradient to follow (case 4). In those epochs c = failures − χ > 0,
 * so the feasible cases 2 and 3 appear only where a resume changed χ; they are counted apart.
 * Empty when the run logged no case.
 */
function exactStepCases(epochs: readonly EpochMetrics[], chi: number): string {
  const above = epochs.filter((m) => m.avgFailures > chi && Number.isFinite(m.cpoCase ?? NaN));
  if (above.length === 0) return '';
  const count = (k: number): number => above.filter((m) => m.cpoCase === k).length;
  const nus = above.filter((m) => m.cpoCase === 1).map((m) => m.lambda);
  const nu = nus.length === 0 ? '' : `, ν* median ${f(medianOf(nus))}`;
  const feasible = count(2) + count(3);
  const other = feasible === 0 ? '' : `, and took a feasible case (2 or 3: χ changed by a resume?) in ${feasible}`;
  return `; in the ${above.length} epochs above χ that logged a CPO case, the step recovered (case 0) in ${count(0)}, expected its trust region to reach χ (case 1) in ${count(1)}${nu}, had no cost gradient (case 4) in ${count(4)}${other}`;
}

function medianOf(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The findings as lines for a terminal or a log. */
export function formatHealth(findings: readonly HealthFinding[]): string {
  return findings.map((x) => `  ${x.level.padEnd(4)}  ${x.message}`).join('\n');
}

/** One run's findings, named by its folder. */
export interface RunHealth {
  readonly dir: string;
  readonly findings: readonly HealthFinding[];
}

/** The warnings of several runs (a comparison's), one line each, or nothing when none warns. */
export function healthWarnings(runs: readonly RunHealth[]): string[] {
  return runs.flatMap((r) => r.findings.filter((x) => x.level === 'warn').map((x) => `${r.dir}: ${x.message}`));
}
