import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint } from '../nn/checkpoint.ts';
import { defaultInitPolicy, NO_INIT_POLICY, resolveInitPolicy, STANDING_CONTROLLER_DIR } from './init-policy.ts';

test('laikago-walk starts from the shipped standing controller, for every algo but sac', () => {
  for (const algo of ['csc', 'trpo', 'cpo', 'qensemble'] as const) assert.equal(defaultInitPolicy('laikago-walk', algo), STANDING_CONTROLLER_DIR);
  assert.equal(defaultInitPolicy('laikago-walk', 'sac'), undefined);
  for (const env of ['laikago-stand', 'point-nav', 'car-nav', 'panda-push-topple']) assert.equal(defaultInitPolicy(env, 'csc'), undefined, env);
});

test('the shipped standing controller is a laikago-stand checkpoint whose policy fits laikago-walk', async () => {
  assert.ok(existsSync(join(STANDING_CONTROLLER_DIR, 'checkpoint.json')), `${STANDING_CONTROLLER_DIR}/checkpoint.json is missing`);
  const ck = await loadCheckpoint(STANDING_CONTROLLER_DIR);
  const spec = ck.meta.spec as { id: string; obsSize: number; actSize: number };
  assert.deepEqual([spec.id, spec.obsSize, spec.actSize], ['laikago-stand', 48, 12]);
  assert.equal(ck.meta.algo, 'csc');
});

test('--init-policy: the default, none, an explicit path, and nothing on --resume', async () => {
  assert.equal(await resolveInitPolicy(undefined, 'laikago-walk', 'csc', false), STANDING_CONTROLLER_DIR);
  assert.equal(await resolveInitPolicy(NO_INIT_POLICY, 'laikago-walk', 'csc', false), undefined);
  assert.equal(await resolveInitPolicy(undefined, 'laikago-walk', 'csc', true), undefined);
  assert.equal(await resolveInitPolicy(undefined, 'point-nav', 'csc', false), undefined);
  assert.equal(await resolveInitPolicy(STANDING_CONTROLLER_DIR, 'point-nav', 'trpo', false), STANDING_CONTROLLER_DIR);
  await assert.rejects(resolveInitPolicy('/nonexistent/run', 'laikago-walk', 'csc', false), /neither a checkpoint directory/);
});
