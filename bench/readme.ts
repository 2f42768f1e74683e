/**
 * Fills README.md's "Measured" section (between `<!-- BENCH:START -->` and `<!-- BENCH:END -->`)
 * from the JSON the other bench scripts wrote to bench/results/, so every number in the README
 * is one a benchmark measured, with the file it came from. A result file that is missing leaves
 * its line out rather than a stale number in.
 *
 *   node --import tsx bench/readme.ts [--check]
 *
 * `--check` exits 1 when README.md is not what the results give (nothing is written).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const RESULTS = join(ROOT, 'bench', 'results');
const START = '<!-- BENCH:START -->';
const END = '<!-- BENCH:END -->';

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return -- reading our own result files, whose shapes each bench script defines */
function load(name: string): any {
  const file = join(RESULTS, name);
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
}

const f0 = (x: number): string => Math.round(x).toLocaleString('en-US');
const f2 = (x: number): string => x.toFixed(2);
const pm = (s: { mean: number | null; std: number | null; n: number } | undefined, digits = 1): string =>
  s === undefined || s.mean === null ? '—' : `${s.mean.toFixed(digits)} ± ${(s.std ?? 0).toFixed(digits)}`;
const day = (iso: string): string => iso.slice(0, 10);

const ALGO_NAMES: Record<string, string> = { csc: 'CSC', trpo: 'TRPO (Base)', cpo: 'CPO', sac: 'SAC', qensemble: 'Q-ensembles' };

function learnerSection(): string[] {
  const l = load('learner.json');
  if (l === undefined) return [];
  const base = load('learner-base.json');
  const native = load('learner-tensorflow.json');
  const csc = l.train.csc;
  const goal: Record<string, string> = {
    csc: `≥ 10,000 and ≥ 0.5× TRPO: ${l.goals.met.cscStepsPerS ? 'met' : 'not met'}, ${l.goals.met.cscOverTrpo ? 'met' : 'not met'} (${f2(l.ratios.cscVsTrpo)}×)`,
    trpo: `≥ 20,000: ${l.goals.met.trpoStepsPerS ? 'met' : 'not met'}`,
    sac: `≥ 2,000: ${l.goals.met.sacStepsPerS ? 'met' : 'not met'}`,
  };
  const tensors = csc.perEpoch.map((e: any) => e.tensors).join(' → ');
  const rss = csc.perEpoch.map((e: any) => Math.round(e.rssMiB)).join(' → ');
  const rows = Object.values(l.train).map((t: any) => {
    const b = base?.train?.[t.algo];
    return `| \`csc train --algo ${t.algo}\`, ${ALGO_NAMES[t.algo] ?? t.algo} | ${f0(t.envStepsPerS)} | ${f0(t.envStepsPerCpuS)} | ${b === undefined ? '—' : `${f0(b.envStepsPerS)} / ${f0(b.envStepsPerCpuS)}`} | ${goal[t.algo] ?? ''} |`;
  });
  const profiled = ['csc', 'trpo'].filter((a) => l.train[a] !== undefined);
  const phases = [...new Set(profiled.flatMap((a) => Object.keys(l.train[a].profile)))];
  const cell = (r: any, a: string, k: string): string => {
    const p = r?.train?.[a]?.profile?.[k];
    return p === undefined ? '—' : `${f0(p.ms)} (${(100 * p.share).toFixed(0)}%)`;
  };
  return [
    `**Learner** (\`bench/learner.ts\` → \`learner.json\`, point-nav, default config: ${l.config.numEnvs} envs, ${l.config.stepsPerEpoch} steps an epoch, ${l.config.filterCandidates} candidates, ${l.config.criticUpdatesPerEpoch} critic updates of ${l.config.criticBatch}; ${l.backend.detail}, ${day(l.date)}, load ${l.machine.loadavg[0].toFixed(1)}). ${base === undefined ? '' : `"before" is \`learner-base.json\` (${day(base.date)}): ${base.note}`}`,
    '',
    '| | env steps/s | env steps per CPU-s | before: steps/s / per CPU-s | goal |',
    '|---|---:|---:|---:|---|',
    ...rows,
    ...(native === undefined ? [] : [`| \`csc train --backend tensorflow\`, CSC (\`learner-tensorflow.json\`, ${day(native.date)}, older code) | ${f0(native.train.csc.envStepsPerS)} | | | |`]),
    `| reference: raw point-nav stepping | ${f0(l.reference.rawEnvStepsPerS)} | | | |`,
    `| reference: a plain batched policy forward pass per step | ${f0(l.reference.plainForwardStepsPerS)} | | | |`,
    '',
    `Where an epoch's wall time goes (ms per epoch and share; docs/backends.md explains each change):`,
    '',
    `| phase | ${profiled.map((a) => `${ALGO_NAMES[a]} before | ${ALGO_NAMES[a]} now`).join(' | ')} |`,
    `|---|${profiled.map(() => '---:|---:').join('|')}|`,
    ...phases.map((k) => `| ${k} | ${profiled.map((a) => `${cell(base, a, k)} | ${cell(l, a, k)}`).join(' | ')} |`),
    '',
    `Filter decision for one state, ${l.config.filterCandidates} candidates: all rejected p50 ${f2(l.filterLatency.exhausted100.p50Ms)} ms, p99 ${f2(l.filterLatency.exhausted100.p99Ms)} ms; first candidate accepted p50 ${f2(l.filterLatency.acceptFirst.p50Ms)} ms, p99 ${f2(l.filterLatency.acceptFirst.p99Ms)} ms (goal p99 ≤ 0.25 ms: ${l.goals.met.filterP99Ms ? 'met' : 'not met'}). CSC's live tensors per epoch ${tensors} (flat); RSS ${rss} MiB.`,
    '',
  ];
}

function bridgeRows(file: string): string[] {
  const b = load(file);
  if (b === undefined) return [];
  return b.results.map((r: any) => {
    const best = r.goal.best;
    const one = r.bridge.find((x: any) => x.workers === 1 && x.envsPerWorker === 1);
    return `| \`${r.env}\` | ${f0(r.raw.singleStepsPerSMean)} | ${one === undefined ? '—' : f2(one.ratioToRawSingle)}× | ${f2(best.ratio)}× (${best.workers} × ${best.envsPerWorker}) | ${r.goal.met ? 'met' : 'not met'} | \`${file}\`, ${day(b.date)} |`;
  });
}

function bridgeSection(): string[] {
  const rows = [...bridgeRows('bridge.json'), ...bridgeRows('bridge-robots.json')];
  if (rows.length === 0) return [];
  return [
    '**Sim bridge** (`bench/bridge.ts`): env steps/s through ZeroMQ against raw in-process stepping of the same simulator in the same run (servers × envs per server):',
    '',
    '| env | raw steps/s | 1 × 1 | best | goal ≥ 0.9× raw | source |',
    '|---|---:|---:|---:|---|---|',
    ...rows,
    '',
  ];
}

// ray-scale.json: the shared machine's load moves; the raw reference of a row is the median of every raw
// measurement of the env in the run
const rawsOf = (e: any): number[] => [e.raw.single.stepsPerS, e.rawAfter.single.stepsPerS, ...e.remote.map((x: any) => x.rawSingleStepsPerS)].sort((a, b) => a - b);
const median = (xs: number[]): number => (xs.length % 2 === 1 ? xs[(xs.length - 1) / 2]! : (xs[xs.length / 2 - 1]! + xs[xs.length / 2]!) / 2);
const scaleCell = (e: any, mode: string, w: number): string => {
  const x = e.remote.find((y: any) => y.mode === mode && y.workers === w);
  return x === undefined ? '—' : `${f0(x.stepsPerS)} (${f2(x.stepsPerS / median(rawsOf(e)))}×)`;
};

function rayScaleSection(): string[] {
  const r = load('ray-scale.json');
  if (r === undefined) return [];
  const counts: number[] = [...new Set<number>(r.results.flatMap((e: any) => e.remote.map((x: any) => x.workers)))].sort((a, b) => a - b);
  const rows = r.results.map((e: any) => {
    const raws = rawsOf(e);
    return `| \`${e.env}\` | ${f0(median(raws))} (${f0(raws[0] ?? NaN)}–${f0(raws.at(-1) ?? NaN)}) | ${e.envsPerWorker} | ${counts.map((w) => scaleCell(e, 'ray', w)).join(' | ')} | ${counts.map((w) => scaleCell(e, 'local', w)).join(' | ')} |`;
  });
  return [
    `**Sim scale-out on Ray** (\`bench/ray-scale.ts\` → \`ray-scale.json\`, ${day(r.started.date)}, ${r.host.cpus} cores, load average ${r.host.loadavg[0].toFixed(1)}): env steps/s through N sim servers as Ray actors (\`--sim-cluster auto\`, ZeroMQ CURVE over TCP) and as N local processes (ipc), K envs each, against raw single-env in-process stepping measured before each of them in the same run (× = over the median of those; the range shows how the shared machine's load moved); with more servers than cores they share the cores ([docs/scale-out.md](docs/scale-out.md)):`,
    '',
    `| env | raw steps/s, median (range) | K | ${counts.map((w) => `Ray ${w}`).join(' | ')} | ${counts.map((w) => `local ${w}`).join(' | ')} |`,
    `|---|---:|---:|${counts.map(() => '---:').join('|')}|${counts.map(() => '---:').join('|')}|`,
    ...rows,
    '',
  ];
}

/** The 16-core runs (docs/scale-out.md "On 16 cores"): machine a quiet, machine b a loaded second lease. */
function rayScale16Section(): string[] {
  const runs = [
    { file: 'ray-scale-16core-a-local.json', machine: 'a' },
    { file: 'ray-scale-16core-a-ray.json', machine: 'a' },
    { file: 'ray-scale-16core-b-k2.json', machine: 'b' },
  ].map((x) => ({ ...x, r: load(x.file) }));
  if (runs.some((x) => x.r === undefined)) return [];
  const counts: number[] = [...new Set<number>(runs.flatMap((x) => x.r.results[0].remote.map((y: any) => y.workers)))].sort((a, b) => a - b);
  const rows = runs.flatMap(({ file, machine, r }) => {
    const e = r.results[0];
    const raws = rawsOf(e);
    const modes: string[] = [...new Set<string>(e.remote.map((y: any) => y.mode))];
    return modes.map((mode) => `| ${machine} | \`${e.env}\` | ${mode === 'ray' ? 'Ray' : 'local'} | ${f0(median(raws))} (${f0(raws[0]!)}–${f0(raws.at(-1)!)}) | ${e.envsPerWorker} | ${counts.map((w) => scaleCell(e, mode, w)).join(' | ')} | \`${file}\` |`);
  });
  const a = runs[0]!.r;
  return [
    `**Sim scale-out on 16 cores** (${day(a.started.date)}, ${a.host.cpus} cores, ${a.host.model}; run from \`bench/portable/\` packs on a lent machine without Node.js): the same bench, N servers × K envs against raw single-env stepping in the same run; machine a was quiet, b a second, loaded lease whose raw stepping moved 2× within the run ([docs/scale-out.md](docs/scale-out.md#on-16-cores)):`,
    '',
    `| machine | env | servers | raw steps/s, median (range) | K | ${counts.join(' | ')} | source |`,
    `|---|---|---|---:|---:|${counts.map(() => '---:').join('|')}|---|`,
    ...rows,
    '',
  ];
}

function backendsSection(): string[] {
  const b = load('backends.json');
  if (b === undefined) return [];
  const cand = (name: string): any => b.backends[name]?.forward?.find((f: any) => f.op === 'critic.predictCandidates');
  const upd = (name: string, op: string): any => b.backends[name]?.updates?.find((u: any) => u.op.startsWith(op));
  const w = cand('wasm');
  const t = cand('tensorflow');
  if (w === undefined || t === undefined) return [];
  const ratio = (a: any, c: any): string => f2(a.backend.medianUs / c.backend.medianUs);
  return [
    `**Backends** (\`bench/backends.ts\` → \`backends.json\`, ${day(b.date)}): the native TensorFlow backend (built offline, docs/backends.md) against wasm: critic forward on ${w.rows} rows ${ratio(w, t)}× faster, CQL update ${ratio(upd('wasm', 'critic.update'), upd('tensorflow', 'critic.update'))}×, Fisher-vector product ${ratio(upd('wasm', 'policy.fisher'), upd('tensorflow', 'policy.fisher'))}×; wasm stays faster for single-state calls.`,
    '',
  ];
}

function learningSection(): string[] {
  // Later files add only the groups (env, algorithm, budget) the earlier ones did not have. The
  // files measured before 2026-11-27 ran CSC as Algorithm 1 is printed, which `--preset paper`
  // keeps: their CSC rows are labelled so. `-60ep-kernels` is the README default run again after
  // issue 12's kernel and critic-pass changes (docs/results.md compares it with `-60ep`).
  const names = [
    'learning-point-nav-60ep-kernels.json',
    'learning-point-nav-200ep.json',
    'learning-point-nav-60ep.json',
    'learning-point-nav-60ep-paper.json',
    'learning-car-nav-200k.json',
    'learning-laikago-walk-320k-5seeds.json',
    'learning-laikago-walk-320k.json',
    'learning-laikago-walk-320k-filter-only.json',
    'learning-laikago-walk-96k.json',
    'learning-panda-push-topple-160k.json',
    'learning-panda-push-topple-160k-filter-only.json',
    'learning-panda-push-boundary-160k.json',
    'learning-panda-push-boundary-160k-filter-only.json',
    'learning-panda-push-topple-80k.json',
    'learning-panda-push-boundary-80k.json',
    'learning-point-nav.json',
    'learning-point-nav-cpo.json',
    'learning-point-nav-sac.json',
    'learning-point-nav-baselines.json',
    'learning-point-nav-chi.json',
    'learning-car-nav.json',
  ];
  const printed = new Set(['learning-point-nav-60ep-paper.json', 'learning-point-nav.json', 'learning-point-nav-cpo.json', 'learning-point-nav-sac.json', 'learning-point-nav-baselines.json', 'learning-point-nav-chi.json', 'learning-car-nav.json']);
  // CSC rows of a comparison run with `--preset X` (its command says so) are labelled with it.
  const cscLabel = (name: string, r: any, group: string): string => {
    const preset = printed.has(name) ? 'paper' : /--preset (\S+)/.exec(String(r.command ?? ''))?.[1];
    return preset !== undefined && group.startsWith('CSC') ? group.replace('CSC', `CSC \`--preset ${preset}\``) : group;
  };
  const seen = new Set<string>();
  const rows: string[] = [];
  for (const name of names) {
    const r = load(name);
    if (r === undefined) continue;
    for (const g of r.summary.groups) {
      const epochs = r.summary.runs.find((x: any) => x.group === g.group)?.epochs ?? '?';
      // A χ sweep of one algorithm names its groups by χ only.
      const label = cscLabel(name, r, r.summary.algos.length === 1 && String(g.group).startsWith('χ') ? `${String(r.summary.algos[0]).toUpperCase()}, ${g.group}` : String(g.group));
      const key = `${r.summary.env}/${label}/${epochs}`;
      if (seen.has(key)) continue;
      seen.add(key);
      rows.push(`| ${r.summary.env} | ${label} | ${epochs} | ${g.runs} | ${pm(g.cumulativeFailures)} | ${pm(g.finalAvgReward, 2)} | ${g.reachedChi}/${g.runs}: ${pm(g.episodesUntilBelowChi, 0)} | ${pm(g.envStepsPerS, 0)} | \`${name}\` |`);
    }
  }
  if (rows.length === 0) return [];
  // The filter and critic goals, for the comparisons that logged them.
  const pct = (x: any): string => (x === undefined || x.n === 0 ? '–' : `${(100 * x.mean).toFixed(x.mean < 0.01 ? 2 : 0)} %`);
  const filterRows: string[] = [];
  for (const name of names) {
    const r = load(name);
    if (r === undefined) continue;
    for (const g of r.summary.groups) {
      if (g.exhaustedAfter5 === undefined || g.exhaustedAfter5.n === 0) continue;
      const epochs = r.summary.runs.find((x: any) => x.group === g.group)?.epochs ?? '?';
      const label = cscLabel(name, r, String(g.group));
      filterRows.push(`| ${r.summary.env} | ${label} | ${epochs} | ${pct(g.epochsAtOrBelowChiAfter250)} | ${pct(g.exhaustedAfter5)} | ${pct(g.epsilonNonNegative)} | ${pct(g.calibrationConservative)} | ${pct(g.calibrationInformative)} | \`${name}\` |`);
    }
  }
  return [
    '**Learning** (`bench/learning.ts`, seeds 0–2, each row a group of a `csc compare`; figures and discussion in [docs/results.md](docs/results.md)). Compare rows of the same env and epochs only:',
    '',
    '| env | algorithm | epochs | runs | cumulative failures | final avg reward | below χ after (episodes) | env steps/s | source |',
    '|---|---|---:|---:|---:|---:|---:|---:|---|',
    ...rows,
    '',
    ...(filterRows.length === 0
      ? []
      : [
          'The filter and the critic (means over seeds): epochs at or below χ after the first 250 episodes; steps where the filter fell back after epoch 5; epochs with ε ≥ 0; epochs where the critic predicted at least the observed failure, and at most 3× + 0.02 of it:',
          '',
          '| env | algorithm | epochs | ≤ χ after 250 episodes | fell back | ε ≥ 0 | predicted ≥ observed | predicted ≤ 3·observed + 0.02 | source |',
          '|---|---|---:|---:|---:|---:|---:|---:|---|',
          ...filterRows,
          '',
        ]),
  ];
}

function simEnvsSection(): string[] {
  const s = load('sim-envs.json');
  if (s === undefined) return [];
  return [
    `**Short runs on every simulated env** (\`bench/sim-envs.ts\` → \`sim-envs.json\`, seed 0, ${day(s.date)}; smoke-scale, not learning results):`,
    '',
    '| run | env steps | episodes | failures | avg reward first → last epoch | env steps/s |',
    '|---|---:|---:|---:|---:|---:|',
    ...s.results.map((r: any) =>
      r.ok
        ? `| ${r.name} | ${f0(r.epochs * r.stepsPerEpoch)} | ${r.episodes} | ${r.cumulativeFailures} | ${Number.isNaN(r.avgRewardFirst) || r.avgRewardFirst === null ? '—' : f2(r.avgRewardFirst)} → ${r.avgRewardLast === null ? '—' : f2(r.avgRewardLast)} | ${f0(r.envStepsPerS)} |`
        : `| ${r.name} | failed (exit ${r.exitCode}) | | | | |`,
    ),
    '',
  ];
}

function rosSection(): string[] {
  const r = load('ros-latency.json');
  if (r === undefined) return [];
  const row = (name: string, c: any): string =>
    `| ${name} (${c.candidatesTried} tried) | ${f2(c.bareFilter.p50Ms)} / ${f2(c.bareFilter.p99Ms)} | ${f2(c.nodeLoopbackCdr.p50Ms)} / ${f2(c.nodeLoopbackCdr.p99Ms)} | ${f0(c.nodeLoopbackCdr.inputHz)} | ${c.goalMet ? 'met' : 'not met'} |`;
  return [
    `**ROS safety node** (\`bench/ros-latency.ts\` → \`ros-latency.json\`, ${day(r.date)}, load average ${r.machine.loadavg[0]} on ${r.machine.cpus} cores): state in → command out through the loopback transport with CDR, ${r.setup.inputHzTarget} Hz input, ${r.setup.filterCandidates}-candidate filter, against the bare filter decision in the same run (ms):`,
    '',
    `| case | bare decision p50 / p99 | node p50 / p99 | input Hz kept | goal p99 ≤ ${r.goalP99Ms} ms |`,
    '|---|---:|---:|---:|---|',
    row('first candidate accepted', r.cases.accept),
    row('all candidates rejected', r.cases.exhausted),
    '',
  ];
}
/* eslint-enable */

const body = [...learnerSection(), ...learningSection(), ...bridgeSection(), ...rayScaleSection(), ...rayScale16Section(), ...backendsSection(), ...simEnvsSection(), ...rosSection()];
const readmePath = join(ROOT, 'README.md');
const readme = readFileSync(readmePath, 'utf8');
const a = readme.indexOf(START);
const b = readme.indexOf(END);
if (a < 0 || b < a) throw new Error(`README.md: markers ${START} … ${END} not found`);
const next = `${readme.slice(0, a + START.length)}\n${body.join('\n')}${END}${readme.slice(b + END.length)}`;
if (process.argv.includes('--check')) {
  if (next !== readme) {
    console.error('README.md "Measured" is not what bench/results gives; run node --import tsx bench/readme.ts');
    process.exit(1);
  }
} else {
  writeFileSync(readmePath, next);
  console.log(`README.md: Measured section from bench/results (${body.length} lines)`);
}
