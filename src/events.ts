/**
 * Event delivery: the `onEvent` hook and the `m2m-token` diagnostics channel (for APM tools).
 * A throwing hook never breaks a call. `node:diagnostics_channel` is loaded lazily through
 * `process.getBuiltinModule`, so runtimes without it simply have no channel.
 */
import { builtinModule } from './capabilities.js';
import type { TokenEvent } from './types.js';

/** Name of the `node:diagnostics_channel` channel on which every event is published. */
export const DIAGNOSTICS_CHANNEL = 'm2m-token';

interface Channel {
  readonly hasSubscribers: boolean;
  publish(message: unknown): void;
}

let channel: Channel | null | undefined;

/**
 * Request ids: a random prefix per copy of this module (two copies of the package publish on the same
 * channel) and a counter. Made only when someone listens.
 */
const idPrefix = Math.floor(Math.random() * 0x1000000)
  .toString(36)
  .padStart(5, '0');
let idCounter = 0;

/** A new id for a token request or a discovery, unique within the process. */
export function nextRequestId(): string {
  idCounter = (idCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${idPrefix}-${idCounter.toString(36)}`;
}

function getChannel(): Channel | null {
  if (channel !== undefined) return channel;
  try {
    const dc = builtinModule<{ channel(name: string): Channel }>('node:diagnostics_channel');
    channel = dc ? dc.channel(DIAGNOSTICS_CHANNEL) : null;
  } catch {
    channel = null;
  }
  return channel;
}

export class EventSink {
  readonly #onEvent: ((event: TokenEvent) => void) | undefined;
  readonly #channel: Channel | null;

  constructor(onEvent: ((event: TokenEvent) => void) | undefined) {
    this.#onEvent = onEvent;
    this.#channel = getChannel();
  }

  /** True when anyone listens: build events only then (the hot path stays free of allocations). */
  get active(): boolean {
    return this.#onEvent !== undefined || this.#channel?.hasSubscribers === true;
  }

  emit(event: TokenEvent): void {
    if (this.#onEvent) {
      try {
        this.#onEvent(event);
      } catch {
        // A faulty observer must not break token acquisition.
      }
    }
    if (this.#channel?.hasSubscribers) {
      try {
        this.#channel.publish(event);
      } catch {
        // Same for a faulty subscriber.
      }
    }
  }
}
