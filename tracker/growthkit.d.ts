// Types of the GrowthKit browser tracker (growthkit.js).

/** A JSON value that can go into event properties. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Event properties: a plain JSON object (undefined members are dropped). */
export type Properties = { [key: string]: JsonValue | undefined };

export interface GrowthKitConfig {
  /** The app's public key, `pk_…` (never the secret `sk_…` key). */
  publicKey: string;
  /** Base URL of the GrowthKit server, e.g. `https://gk.example.com`; default: this page's origin. */
  apiUrl?: string;
  /**
   * The lead's fingerprint: a string, a promise, or a function returning either (e.g. GrowthKit's
   * or FingerprintJS's visitor id). Default: a persisted random id prefixed by a hash of coarse
   * device signals. Events wait in the queue until it is known.
   */
  fingerprint?: string | Promise<string> | (() => string | Promise<string>);
  /** Send as soon as this many events are queued. Default 10. */
  batchSize?: number;
  /** Also send every this many milliseconds. Default 30000. */
  flushInterval?: number;
  /** Most events kept while offline or while the server fails; the oldest go first. Default 500. */
  maxQueue?: number;
  /** Track `page_viewed` on load, history navigation and back/forward-cache restores. */
  autoPageViews?: boolean;
  /** Explain invalid calls and delivery problems in the browser console. */
  debug?: boolean;
}

/** The answer of `POST /api/v1/actions/complete`. */
export interface ActionResult {
  /** The lead's credit balance after the action. */
  balance: number;
  /** The credit operation that was recorded. */
  operation: {
    id: string;
    fingerprint: string;
    action: string;
    /** Negative for a spend. */
    amount: number;
    balanceAfter: number;
    reason: string | null;
    /** ISO-8601 UTC. */
    timestamp: string;
  };
}

/** A failed `completeAction`: `status` is 409 for too few credits, 404 for an unknown action. */
export interface GrowthKitError extends Error {
  status: number;
}

/** Start tracking. Safe to call once; later calls are ignored. A no-op outside browsers. */
export function init(config: GrowthKitConfig): void;

/** Record an event. Never throws; with `debug`, problems are explained in the console. */
export function track(eventName: string, properties?: Properties): void;

/** Send all queued events now. Resolves when the attempt is over (it never rejects). */
export function flush(): Promise<void>;

/**
 * Spend the lead's credits on an action. Rejects with a {@link GrowthKitError} when the server
 * refuses (409: not enough credits, 404: unknown action). `id` makes a retry idempotent.
 */
export function completeAction(action: string, options?: { id?: string }): Promise<ActionResult>;

/** The lead's fingerprint, once `init` has settled it. */
export function fingerprint(): Promise<string>;

declare global {
  interface Window {
    /** Set when the tracker is loaded by a `<script data-key>` tag. */
    growthkit?: {
      init: typeof init;
      track: typeof track;
      flush: typeof flush;
      completeAction: typeof completeAction;
      fingerprint: typeof fingerprint;
    };
  }
}
