import { open, rename, rm } from 'node:fs/promises';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * A sibling temp name for `path`: same directory (so `rename` stays on one filesystem and is
 * atomic), dot-prefixed so directory scans and globs skip it, unique per process and call.
 */
export function tempSiblingPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Makes a finished rename survive a power cut: the new directory entry lives in the directory,
 * so the directory itself is fsynced. Some filesystems refuse to open or fsync a directory
 * (EISDIR, EINVAL, EPERM); those give no stronger guarantee to ask for, so the refusal is ignored.
 */
export async function fsyncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // Best effort by design, see the doc comment.
  } finally {
    await fh?.close();
  }
}

/**
 * Writes `data` to `path` so that a reader sees either the old file or the whole new one, never a
 * part: write a temp sibling, fsync it, rename it over `path`, fsync the directory. A crash leaves
 * at worst a dot-prefixed temp file beside `path`.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempSiblingPath(path);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dirname(path));
}

/**
 * Synchronous `writeFileAtomic`, for the places where awaiting is not possible (a process `exit`
 * handler recording an interrupted run's status).
 */
export function writeFileAtomicSync(path: string, data: string | Uint8Array): void {
  const tmp = tempSiblingPath(path);
  const fd = openSync(tmp, 'w');
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
