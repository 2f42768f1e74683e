/**
 * ROS 2 message definitions for recording: which types the recorder knows, and their complete
 * `ros2msg` text (the schema rosbag2 stores beside every channel of an MCAP bag).
 *
 * The definitions come from `@foxglove/rosmsg-msgs-common` (the ROS 2 Jazzy common interfaces:
 * std_msgs, sensor_msgs, geometry_msgs, diagnostic_msgs, trajectory_msgs, builtin_interfaces, ...)
 * plus this package's own `csc_node/msg/Transition` (msg/Transition.msg).
 */
import type { MessageDefinition, MessageDefinitionField } from '@foxglove/message-definition';
import { ros2jazzy } from '@foxglove/rosmsg-msgs-common';

/** `pkg/msg/Name` → `pkg/Name`, the key form of @foxglove's definition tables. Other forms pass through. */
export function shortTypeName(type: string): string {
  const parts = type.split('/');
  return parts.length === 3 && parts[1] === 'msg' ? `${parts[0]}/${parts[2]}` : type;
}

/** `pkg/Name` or `pkg/msg/Name` → `pkg/msg/Name`, the ROS 2 resource name rosbag2 records. */
export function fullTypeName(type: string): string {
  const parts = type.split('/');
  return parts.length === 2 ? `${parts[0]}/msg/${parts[1]}` : type;
}

/** The name of the transitions message; its .msg text is msg/Transition.msg. */
export const TRANSITION_TYPE = 'csc_node/msg/Transition';

/** csc_node/msg/Transition: one environment step (s, a, r, C(s′), done flags, s′), see msg/Transition.msg. */
export const TRANSITION_DEFINITION: MessageDefinition = {
  name: 'csc_node/Transition',
  definitions: [
    { name: 'obs', type: 'float32', isComplex: false, isArray: true },
    { name: 'action', type: 'float32', isComplex: false, isArray: true },
    { name: 'reward', type: 'float64', isComplex: false, isArray: false },
    { name: 'failure', type: 'uint8', isComplex: false, isArray: false },
    { name: 'terminated', type: 'bool', isComplex: false, isArray: false },
    { name: 'truncated', type: 'bool', isComplex: false, isArray: false },
    { name: 'next_obs', type: 'float32', isComplex: false, isArray: true },
  ],
};

const KNOWN: ReadonlyMap<string, MessageDefinition> = new Map<string, MessageDefinition>([
  ...Object.entries(ros2jazzy),
  [shortTypeName(TRANSITION_TYPE), TRANSITION_DEFINITION],
]);

/** A message type the recorder cannot serialize: not a ROS 2 common interface nor csc_node's own. */
export class UnknownMessageTypeError extends Error {
  override readonly name = 'UnknownMessageTypeError';
  constructor(readonly type: string) {
    super(
      `unknown ROS 2 message type '${type}': expected 'package/msg/Name' of a ROS 2 common interface ` +
        `(std_msgs, sensor_msgs, geometry_msgs, diagnostic_msgs, trajectory_msgs, ...) or ${TRANSITION_TYPE}`,
    );
  }
}

/** The definition of `type` (either name form); throws `UnknownMessageTypeError`. */
export function lookupDefinition(type: string): MessageDefinition {
  const def = KNOWN.get(shortTypeName(type));
  if (def === undefined) throw new UnknownMessageTypeError(type);
  return def;
}

/** The ROS 2 built-in types that @foxglove's tables spell as ROS 1 primitives. */
const BUILTIN_TIME: Readonly<Record<string, string>> = {
  time: 'builtin_interfaces/Time',
  duration: 'builtin_interfaces/Duration',
};

/**
 * `type` followed by all the types it depends on (each once, depth-first in field order), as the
 * list of definitions a CDR `MessageWriter`/`MessageReader` takes.
 */
export function definitionsWithDependencies(type: string): MessageDefinition[] {
  const root = lookupDefinition(type);
  const out: MessageDefinition[] = [root];
  const seen = new Set<string>([shortTypeName(type)]);
  const visit = (def: MessageDefinition): void => {
    for (const dep of dependencyNames(def)) {
      if (seen.has(dep)) continue;
      seen.add(dep);
      const depDef = lookupDefinition(dep);
      out.push(depDef);
      visit(depDef);
    }
  };
  visit(root);
  return out;
}

function literal(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(literal).join(', ')}]`;
  return String(v);
}

function fieldLine(f: MessageDefinitionField): string {
  let type = BUILTIN_TIME[f.type] ?? f.type;
  if (f.upperBound !== undefined) type += `<=${f.upperBound}`;
  if (f.isArray === true) {
    if (f.arrayLength !== undefined) type += `[${f.arrayLength}]`;
    else if (f.arrayUpperBound !== undefined) type += `[<=${f.arrayUpperBound}]`;
    else type += '[]';
  }
  if (f.isConstant === true) return `${type} ${f.name}=${f.valueText ?? literal(f.value)}`;
  return f.defaultValue === undefined ? `${type} ${f.name}` : `${type} ${f.name} ${literal(f.defaultValue)}`;
}

/** The .msg text of one definition (fields and constants; the original comments are not kept). */
export function msgText(def: MessageDefinition): string {
  return def.definitions.map(fieldLine).join('\n') + '\n';
}

/** The 80 '=' line rosbag2 puts before each dependency of a `ros2msg` schema. */
export const ROS2MSG_SEPARATOR = '='.repeat(80);

/** The types `def`'s fields refer to (ROS 2 spelling, `pkg/Name`), sorted and without repeats. */
function dependencyNames(def: MessageDefinition): string[] {
  const deps = new Set<string>();
  for (const f of def.definitions) {
    if (f.isConstant === true) continue;
    const dep = f.isComplex === true ? f.type : BUILTIN_TIME[f.type];
    if (dep !== undefined) deps.add(dep);
  }
  return [...deps].sort();
}

/**
 * The complete `ros2msg` schema of `type` exactly in the layout rosbag2 records (its
 * LocalMessageDefinitionSource, documented in docs/message_definition_encoding.md): the type's
 * own .msg text, then for each type it depends on (sorted by name, depth-first, each once) a blank
 * line, a line of 80 '=', a line `MSG: pkg/Name` and that type's text. `time`/`duration` are
 * written as `builtin_interfaces/Time`/`Duration`, as ROS 2 .msg files do. The original comments
 * are not kept (the definitions come without them).
 */
export function ros2msgSchema(type: string): string {
  const seen = new Set<string>();
  const append = (def: MessageDefinition): string => {
    let text = msgText(def);
    for (const dep of dependencyNames(def)) {
      if (seen.has(dep)) continue;
      seen.add(dep);
      text += `\n${ROS2MSG_SEPARATOR}\nMSG: ${shortTypeName(dep)}\n${append(lookupDefinition(dep))}`;
    }
    return text;
  };
  return append(lookupDefinition(type));
}
