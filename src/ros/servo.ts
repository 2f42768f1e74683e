/**
 * Starting MoveIt Servo, the consumer of the Panda's twist commands. Servo ignores every command
 * until it is started, and how that is done depends on the ROS 2 distribution it was built for:
 * Humble (MoveIt 2.5) and Iron (2.8) take `<servo>/start_servo` (std_srvs/Trigger); Jazzy and later
 * (MoveIt ≥ 2.10) take `<servo>/switch_command_type` (moveit_msgs/srv/ServoCommandType) with the
 * command type the node publishes, TWIST = 1. The node keeps holding until Servo has answered.
 */
import type { ServoInterface, ServoSettings } from './profile.ts';
import type { RosTransport } from './transport.ts';

/** moveit_msgs/srv/ServoCommandType's request constants (JOINT_JOG = 0, TWIST = 1, POSE = 2). */
export const SERVO_COMMAND_TYPE = { JOINT_JOG: 0, TWIST: 1, POSE: 2 } as const;

/** Distributions whose MoveIt Servo is started with `start_servo`. */
const START_SERVO_DISTROS: readonly string[] = ['foxy', 'galactic', 'humble', 'iron'];

/** The start call for `distro` (ROS_DISTRO) when the profile says `auto`, else the profile's. */
export function servoInterfaceFor(setting: ServoInterface, distro: string): 'start_servo' | 'switch_command_type' {
  if (setting !== 'auto') return setting;
  return START_SERVO_DISTROS.includes(distro.toLowerCase()) ? 'start_servo' : 'switch_command_type';
}

/** Options of {@link startServo}. */
export interface StartServoOptions {
  readonly transport: RosTransport;
  readonly settings: ServoSettings;
  /** ROS_DISTRO of the running ROS 2. */
  readonly distro: string;
  readonly log: (line: string) => void;
  /** Stops the retries (the node shuts down). */
  readonly signal?: AbortSignal;
}

/**
 * Calls Servo's start service until it answers with success, every `retryPeriodS`, logging the
 * first failure and then every tenth. Resolves true once Servo is started, false if aborted.
 */
export async function startServo(o: StartServoOptions): Promise<boolean> {
  const kind = servoInterfaceFor(o.settings.interface, o.distro);
  const service = `${o.settings.node}/${kind}`;
  const what = kind === 'start_servo' ? `${service} (std_srvs/srv/Trigger)` : `${service} (moveit_msgs/srv/ServoCommandType, command_type TWIST = 1)`;
  const periodMs = o.settings.retryPeriodS * 1000;
  const aborted = (): boolean => o.signal?.aborted === true;
  for (let attempt = 1; !aborted(); attempt++) {
    const started = Date.now();
    let answer: string;
    try {
      if (kind === 'start_servo') {
        const r = await o.transport.callService(service, 'std_srvs/srv/Trigger', {}, periodMs);
        answer = r === null ? 'no answer' : r.success ? '' : `refused (${r.message === '' ? 'no message' : r.message})`;
      } else {
        const r = await o.transport.callService(service, 'moveit_msgs/srv/ServoCommandType', { command_type: SERVO_COMMAND_TYPE.TWIST }, periodMs);
        answer = r === null ? 'no answer' : r.success ? '' : 'refused (success false)';
      }
    } catch (e) {
      // A call cut short by the node's shutdown is no fault.
      if (aborted()) return false;
      throw e;
    }
    if (aborted()) return false;
    if (answer === '') {
      o.log(`MoveIt Servo started: ${what} answered success${attempt > 1 ? ` after ${attempt} attempts` : ''}`);
      return true;
    }
    if (attempt === 1 || attempt % 10 === 0) {
      o.log(`waiting for MoveIt Servo: ${what}: ${answer} (attempt ${attempt}; retrying every ${o.settings.retryPeriodS} s; the node holds meanwhile; set servo.start: false in the profile if the commands do not go to Servo)`);
    }
    const rest = periodMs - (Date.now() - started);
    if (rest > 0) await sleep(rest, o.signal);
  }
  return false;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done);
  });
}
