/**
 * Recording what the node (or a `ros:` training env) publishes — the command topic and the critic
 * topic — into an MCAP file, read back through the transport as any subscriber sees it.
 */
import { Subscription } from 'rxjs';
import type { McapRecorder } from './mcap.ts';
import type { Time } from './messages.ts';
import type { RobotProfile } from './profile.ts';
import type { RosTransport } from './transport.ts';

/** A ROS time in nanoseconds (MCAP log time). */
export const timeNs = (t: Time): bigint => BigInt(t.sec) * 1_000_000_000n + BigInt(t.nanosec);

/** Records the node's command and critic topics (as published, read back through the transport). */
export function recordNodeTopics(t: RosTransport, profile: RobotProfile, recorder: McapRecorder): Subscription {
  const sub = new Subscription();
  const critic = profile.topics.critic;
  sub.add(t.subscribe(critic, 'std_msgs/msg/Float64MultiArray').subscribe((m) => { recorder.write(critic, 'std_msgs/msg/Float64MultiArray', m, timeNs(t.now())); }));
  const cmd = profile.command.topic;
  if (profile.robot === 'panda') sub.add(t.subscribe(cmd, 'geometry_msgs/msg/TwistStamped').subscribe((m) => { recorder.write(cmd, 'geometry_msgs/msg/TwistStamped', m, timeNs(m.header.stamp)); }));
  else sub.add(t.subscribe(cmd, 'std_msgs/msg/Float64MultiArray').subscribe((m) => { recorder.write(cmd, 'std_msgs/msg/Float64MultiArray', m, timeNs(t.now())); }));
  return sub;
}
