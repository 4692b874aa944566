// Types of the GrowthKit React bindings (react.js).
import type { ReactNode, ReactElement } from 'react';
import type { ActionResult, GrowthKitConfig, Properties } from './growthkit.js';

export interface GrowthKitProviderProps {
  /** Passed to `init()` once, when the provider mounts. */
  config: GrowthKitConfig;
  children?: ReactNode;
}

export interface GrowthKit {
  /** Record an event; a stable function (safe in dependency arrays); never throws. */
  track(eventName: string, properties?: Properties): void;
  /** Send all queued events now. */
  flush(): Promise<void>;
  /** Spend credits on an action; updates `credits` on success. Rejects on 404/409. */
  completeAction(action: string, options?: { id?: string }): Promise<ActionResult>;
  /** The balance returned by the last successful `completeAction`, or null before one. */
  credits: number | null;
}

export function GrowthKitProvider(props: GrowthKitProviderProps): ReactElement;

export function useGrowthKit(): GrowthKit;
