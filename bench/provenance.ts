/** What every bench result records about where it ran: the commit and the machine. */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';

/** HEAD's commit, or null outside a git checkout. */
export function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

/** Cores, CPU model and load averages now. */
export function machineInfo(): { cpus: number; model: string | undefined; loadavg: number[] } {
  return { cpus: cpus().length, model: cpus()[0]?.model, loadavg: loadavg() };
}
