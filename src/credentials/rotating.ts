/**
 * A credential given as a function (`clientSecret: () => vault.read(...)`, `privateKey: async () => ...`):
 * called on the first token request and its value kept; called again only after the server refused
 * the client, so that a secret or key rotated elsewhere (a Kubernetes secret, a vault) is picked up
 * without a restart, and a vault is not asked once per token request. Each call is bounded by the
 * attempt's `timeoutMs` (credentials/deadline.ts): a function that never settles fails that request
 * with M2M_TIMEOUT and is called afresh by the next one.
 */
import { withinTimeout } from './deadline.js';

/** The credentials that may be given as a function. */
export type RotatingOption = 'clientSecret' | 'privateKey';

/** What a renewal found. */
export interface Renewal {
  /** The value differs from the one the refused request used: repeat the request with it. */
  readonly changed: boolean;
  /** This call made the renewal that found the change (others piggybacked): report it once. */
  readonly fresh: boolean;
}

/**
 * One credential given as a function: its current value, and its renewal after a refusal. The function
 * is called once for concurrent callers (first use, and each renewal); a failure is not kept (the next
 * token request calls again), and so is a call that did not settle within `timeoutMs`. Every value it
 * returns is checked by `check` (the constructor's checks for that option) before it is used.
 */
export class RotatingCredential<T> {
  readonly option: RotatingOption;
  readonly #provide: () => T | Promise<T>;
  readonly #check: (value: unknown) => T;
  readonly #same: (a: T, b: T) => boolean;
  readonly #timeoutMs: number;
  #value: { readonly value: T } | undefined;
  #loading: Promise<T> | undefined;
  #renewing: Promise<boolean> | undefined;
  /** Bumped each time a renewal finds a new value. */
  #generation = 0;

  constructor(
    option: RotatingOption,
    provide: () => T | Promise<T>,
    check: (value: unknown) => T,
    timeoutMs: number,
    same: (a: T, b: T) => boolean = Object.is,
  ) {
    this.option = option;
    this.#provide = provide;
    this.#check = check;
    this.#same = same;
    this.#timeoutMs = timeoutMs;
  }

  /** The value requests are sent with now (see {@link renew}). */
  get generation(): number {
    return this.#generation;
  }

  /** The current value; the function is called on first use (once for concurrent callers). */
  current(): Promise<T> {
    const known = this.#value;
    if (known !== undefined) return Promise.resolve(known.value);
    this.#loading ??= this.#call().then(
      (value) => {
        this.#loading = undefined;
        // A renewal that finished meanwhile has the newer value.
        this.#value ??= { value };
        return this.#value.value;
      },
      (error: unknown) => {
        this.#loading = undefined;
        throw error;
      },
    );
    return this.#loading;
  }

  /**
   * The server refused a request sent while the value was at `seen` (a {@link generation}): calls the
   * function again, unless another caller has found a new value since (then that one is used). Resolves
   * to whether there is a value to repeat the request with. Rejects with the function's error, or a
   * ConfigurationError naming the option for a value that fails the checks.
   */
  async renew(seen: number): Promise<Renewal> {
    if (this.#generation !== seen) return { changed: true, fresh: false };
    const running = this.#renewing;
    if (running !== undefined) return { changed: await running, fresh: false };
    const renewal = this.#renewOnce();
    this.#renewing = renewal;
    try {
      return { changed: await renewal, fresh: true };
    } finally {
      this.#renewing = undefined;
    }
  }

  async #renewOnce(): Promise<boolean> {
    const value = await this.#call();
    const previous = this.#value;
    this.#value = { value };
    // Nothing was in use yet: the first value, not a change.
    if (previous === undefined) return false;
    if (this.#same(previous.value, value)) {
      // Equal, maybe not identical (a new JWK object): keep the one the authenticators were built for.
      this.#value = previous;
      return false;
    }
    this.#generation++;
    return true;
  }

  async #call(): Promise<T> {
    const provided = Promise.resolve().then(() => this.#provide());
    return this.#check(await withinTimeout(this.option, this.#timeoutMs, provided));
  }
}
