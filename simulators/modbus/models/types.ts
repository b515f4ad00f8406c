// What a process model is to its PLC: a register map, an image layout and a step function.
import type { ImageSizes, RegisterImage } from '../image.js';
import type { Identity } from '../identity.js';
import type { TagDef } from '../tags.js';

/** What a model sees of its PLC during a step. */
export interface ModelIo {
  readonly image: RegisterImage;
  /**
   * Publish a measurement: applies the reading overrides of active scenarios (spoofed, frozen
   * values), writes the tag into the image and returns the value now on the bus.
   */
  report(tag: TagDef, value: number): number;
}

export interface ProcessModel {
  readonly type: 'tank' | 'bench' | 'playback';
  /** the register map */
  readonly tags: readonly TagDef[];
  readonly sizes: ImageSizes;
  readonly defaultIdentity: Identity;
  /** Writes the initial register values and installs the write check. */
  init(io: ModelIo): void;
  /** Advances the process by dtMs of plant time. */
  step(dtMs: number, io: ModelIo): void;
  /** what an attacker changes by default in the setpoint-tamper scenario */
  readonly tamperDefaults: ReadonlyArray<{ tag: string; value: number }>;
  /** the readings sensor-spoof and sensor-freeze act on by default */
  readonly sensorTags: readonly string[];
  /** the register that mirrors the firmware revision, if any */
  readonly firmwareTag?: string;
}

/** firmware_version register value of a revision string: major*100 + minor*10 + patch (999 when unreadable). */
export function firmwareNumber(revision: string): number {
  const m = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(revision);
  if (!m) return 999;
  return Math.min(65535, Number(m[1]) * 100 + Number(m[2]) * 10 + Number(m[3] ?? 0));
}
