// `--checkpoint` accepts a checkpoint directory, a run folder, or a run's checkpoints/latest file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from './args.ts';
import { resolveCheckpointDir } from './eval.ts';

test('--checkpoint: a checkpoint directory, a run folder (its newest) or its checkpoints/latest file; anything else is named', async () => {
  const run = mkdtempSync(join(tmpdir(), 'csc-eval-'));
  const ck = join(run, 'checkpoints');
  for (const e of ['epoch-000003', 'epoch-000012']) {
    mkdirSync(join(ck, e), { recursive: true });
    writeFileSync(join(ck, e, 'checkpoint.json'), '{}');
  }
  writeFileSync(join(ck, 'latest'), 'epoch-000012\n');
  assert.equal(await resolveCheckpointDir(join(ck, 'epoch-000003')), join(ck, 'epoch-000003'));
  assert.equal(await resolveCheckpointDir(run), join(ck, 'epoch-000012'));
  assert.equal(await resolveCheckpointDir(join(ck, 'latest')), join(ck, 'epoch-000012'));

  writeFileSync(join(ck, 'latest'), 'epoch-000099\n');
  await assert.rejects(resolveCheckpointDir(join(ck, 'latest')), (e: unknown) => e instanceof UsageError && /names .*epoch-000099, which is not a checkpoint directory/.test(e.message));
  const notes = join(run, 'notes.txt');
  writeFileSync(notes, 'x');
  for (const bad of [notes, join(run, 'missing')]) {
    await assert.rejects(resolveCheckpointDir(bad), (e: unknown) => e instanceof UsageError && /neither a checkpoint directory .* nor a run folder/.test(e.message), bad);
  }
});
