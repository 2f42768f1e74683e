/**
 * Frames to a video file through ffmpeg: raw RGB frames piped to its stdin, H.264 in `.mp4`
 * (yuv420p, so every player reads it) or a palette-optimised `.gif`.
 *
 * ffmpeg is found as `$CSC_FFMPEG`, else the binary the imageio-ffmpeg wheel ships in the sim venv
 * (scripts/setup-sim.sh installs it, so no system package is needed), else `ffmpeg` on PATH.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { simPython } from '../bridge/supervisor.ts';
import type { Frame } from '../envs/env.ts';

/** Output containers `--render` accepts, by file extension. */
export const VIDEO_FORMATS = ['mp4', 'gif'] as const;
export type VideoFormat = (typeof VIDEO_FORMATS)[number];

/** Misuse (a bad path or size) or a failed encoder; the message says which and how to fix it. */
export class VideoError extends Error {
  override readonly name = 'VideoError';
}

/** The format of `path` from its extension; throws {@link VideoError} for anything else. */
export function videoFormatOf(path: string): VideoFormat {
  const ext = /\.([A-Za-z0-9]+)$/.exec(path)?.[1]?.toLowerCase();
  const format = VIDEO_FORMATS.find((f) => f === ext);
  if (format === undefined) throw new VideoError(`${path}: expected a .mp4 or .gif file name, got ${ext === undefined ? 'no extension' : `.${ext}`}`);
  return format;
}

/** The ffmpeg binary to use (see the module comment); throws {@link VideoError} when there is none. */
export function findFfmpeg(): string {
  const fromEnv = process.env.CSC_FFMPEG;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!existsSync(fromEnv)) throw new VideoError(`CSC_FFMPEG=${fromEnv}: no such file`);
    return fromEnv;
  }
  const py = simPython();
  if (existsSync(py)) {
    const r = spawnSync(py, ['-c', 'import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())'], { encoding: 'utf8', timeout: 30_000 });
    const exe = r.stdout.trim();
    if (r.status === 0 && exe !== '' && existsSync(exe)) return exe;
  }
  const onPath = spawnSync('ffmpeg', ['-version'], { encoding: 'utf8' });
  if (onPath.status === 0) return 'ffmpeg';
  throw new VideoError(
    'no ffmpeg: set CSC_FFMPEG, run scripts/setup-sim.sh (installs the imageio-ffmpeg wheel into sim/.venv), or install ffmpeg',
  );
}

/** Options of {@link VideoWriter.open}. */
export interface VideoOptions {
  readonly widthPx: number;
  readonly heightPx: number;
  readonly fps: number;
  /** Default: {@link findFfmpeg}. */
  readonly ffmpeg?: string;
}

/** The ffmpeg arguments that read raw RGB frames from stdin and write `path`. */
export function ffmpegArgs(path: string, o: VideoOptions): string[] {
  const input = ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${o.widthPx}x${o.heightPx}`, '-r', String(o.fps), '-i', '-', '-an'];
  switch (videoFormatOf(path)) {
    case 'mp4':
      return [...input, '-c:v', 'libx264', '-preset', 'medium', '-crf', '23', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', path];
    case 'gif':
      // one palette for the whole clip (stats of the changing pixels), then ordered dithering
      return [...input, '-vf', 'split[a][b];[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=bayer:bayer_scale=4', '-loop', '0', path];
  }
}

/** A running ffmpeg encoding one clip. Write every frame, then {@link close}. */
export class VideoWriter {
  private framesWritten = 0;
  private failure: Error | undefined;
  private stderr = '';
  private readonly exited: Promise<number | null>;

  private constructor(
    readonly path: string,
    private readonly o: VideoOptions,
    private readonly child: ReturnType<typeof spawn>,
  ) {
    child.stderr?.on('data', (b: Buffer) => {
      this.stderr = (this.stderr + b.toString('utf8')).slice(-4000);
    });
    child.stdin?.on('error', (e: Error) => {
      this.failure ??= new VideoError(`ffmpeg writing ${path} stopped reading frames: ${e.message}; ${this.stderr.trim()}`);
    });
    this.exited = new Promise((resolve) => {
      child.on('error', (e) => {
        this.failure ??= new VideoError(`cannot run ffmpeg for ${path}: ${e.message}`);
        resolve(null);
      });
      child.on('exit', (code) => {
        resolve(code);
      });
    });
  }

  /** Starts ffmpeg for `path` (.mp4 or .gif). H.264 needs even sizes, so mp4 sizes must be even. */
  static open(path: string, o: VideoOptions): VideoWriter {
    const format = videoFormatOf(path);
    if (!Number.isInteger(o.widthPx) || !Number.isInteger(o.heightPx) || o.widthPx < 16 || o.heightPx < 16) {
      throw new VideoError(`${path}: frame size ${o.widthPx}x${o.heightPx}, expected integers of at least 16`);
    }
    if (format === 'mp4' && (o.widthPx % 2 !== 0 || o.heightPx % 2 !== 0)) {
      throw new VideoError(`${path}: H.264 needs an even frame size, got ${o.widthPx}x${o.heightPx}`);
    }
    if (!(o.fps > 0 && o.fps <= 240)) throw new VideoError(`${path}: fps ${o.fps}, expected a number in (0, 240]`);
    const child = spawn(o.ffmpeg ?? findFfmpeg(), ffmpegArgs(path, o), { stdio: ['pipe', 'ignore', 'pipe'] });
    return new VideoWriter(path, o, child);
  }

  /** Frames handed to ffmpeg so far. */
  get frames(): number {
    return this.framesWritten;
  }

  /** Queues one frame (of the size the writer was opened with); waits while ffmpeg catches up. */
  async write(frame: Frame): Promise<void> {
    this.throwIfFailed();
    if (frame.widthPx !== this.o.widthPx || frame.heightPx !== this.o.heightPx || frame.rgb.length !== frame.widthPx * frame.heightPx * 3) {
      throw new VideoError(
        `${this.path}: frame ${frame.widthPx}x${frame.heightPx} (${frame.rgb.length} bytes), expected ${this.o.widthPx}x${this.o.heightPx} RGB`,
      );
    }
    const stdin = this.child.stdin;
    if (stdin === null) throw new VideoError(`${this.path}: ffmpeg has no stdin`);
    this.framesWritten++;
    if (!stdin.write(frame.rgb)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          stdin.off('drain', done);
          stdin.off('close', done);
          resolve();
        };
        stdin.on('drain', done);
        stdin.on('close', done);
      });
    }
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /** Ends the input and waits for ffmpeg to finish the file; rejects when it failed. */
  async close(): Promise<void> {
    this.child.stdin?.end();
    const code = await this.exited;
    this.throwIfFailed();
    if (code !== 0) throw new VideoError(`ffmpeg exited with ${code} writing ${this.path}: ${this.stderr.trim()}`);
  }
}

/** Decodes `path` with ffmpeg into raw RGB frames of `widthPx × heightPx`, one per stored frame (no rate conversion). */
export function decodeVideo(path: string, widthPx: number, heightPx: number, ffmpeg: string = findFfmpeg()): Uint8Array[] {
  const r = spawnSync(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-i', path, '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], {
    maxBuffer: 1 << 30,
  });
  if (r.status !== 0) throw new VideoError(`ffmpeg cannot decode ${path}: ${r.stderr.toString('utf8').trim()}`);
  const size = widthPx * heightPx * 3;
  const out: Uint8Array[] = [];
  if (r.stdout.length % size !== 0) throw new VideoError(`${path}: ${r.stdout.length} decoded bytes are not whole ${widthPx}x${heightPx} frames`);
  for (let o = 0; o < r.stdout.length; o += size) out.push(new Uint8Array(r.stdout.subarray(o, o + size)));
  return out;
}
